// Managed by pyinfra-openclaw: the gateway container's entrypoint.
//
//   node entrypoint.mjs --user UID:GID --secrets FILE -- <openclaw.mjs> [--profile P] gateway --port N
//
// The container starts as root only for this: FILE is the host's root-only secrets file (mode 600, bind-mounted
// read-only), so the secrets reach the gateway's environment without ever being in `docker run`'s command line,
// in the container's configuration (`docker inspect`) or in a file the gateway's user can read. It then drops to
// the gateway's user for good (setgroups, setgid, setuid) and runs the gateway as a child, passing signals on:
// a `docker stop` SIGTERM lets it drain.
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { constants } from "node:os";

const EX_USAGE = 64;
const EX_CONFIG = 78;

function fail(message, status) {
  // Never the content of the secrets file: a line that cannot be read is named by its number.
  console.error(`openclaw-infra entrypoint: ${message}`);
  process.exit(status);
}

const argv = process.argv.slice(2);
const separator = argv.indexOf("--");
if (separator < 0 || separator % 2 !== 0) fail("usage: --user UID:GID --secrets FILE -- COMMAND…", EX_USAGE);
const options = {};
for (let index = 0; index < separator; index += 2) options[argv[index]] = argv[index + 1];
const command = argv.slice(separator + 1);
const user = /^(\d+):(\d+)$/.exec(options["--user"] ?? "");
if (!user || !options["--secrets"] || command.length === 0) {
  fail("usage: --user UID:GID --secrets FILE -- COMMAND…", EX_USAGE);
}
const [uid, gid] = [Number(user[1]), Number(user[2])];
if (uid === 0 || gid === 0) fail("the gateway never runs as root", EX_USAGE);

// The systemd EnvironmentFile lines the deploy writes: NAME="value", with \\ and \" escaped inside the quotes.
const environment = { ...process.env };
const lines = readFileSync(options["--secrets"], "utf8").split("\n");
lines.forEach((line, index) => {
  if (line === "" || line.startsWith("#")) return;
  const entry = /^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(line);
  if (!entry) fail(`line ${index + 1} of the secrets file is not NAME="value"`, EX_CONFIG);
  environment[entry[1]] = entry[2].replace(/\\(.)/g, "$1");
});

process.setgroups([]);
process.setgid(gid);
process.setuid(uid);
process.umask(0o077);

const gateway = spawn(process.execPath, command, { stdio: "inherit", env: environment });
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"]) {
  process.on(signal, () => gateway.kill(signal));
}
gateway.on("exit", (code, signal) => process.exit(code ?? 128 + constants.signals[signal]));
