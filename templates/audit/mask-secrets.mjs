// Masks secrets in an audit bundle (pyinfra-openclaw): run by systemd-run with the gateway's secrets file as its
// EnvironmentFile, so the values arrive in this process's environment and never on a command line.
//   node mask-secrets.mjs <secrets file> <openclaw.json> <bundle dir>
// 1. <bundle dir>/config/openclaw.json: the config with every string under a credential-like key masked, unless
//    it is a ${VAR} reference (which holds nothing).
// 2. Every regular file of the bundle: each value of the secrets file (read from the environment, by the names
//    the file lists) replaced by *MASKED*.
import fs from "node:fs";
import path from "node:path";

const [secretsFile, configFile, bundle] = process.argv.slice(2);
const MASK = "*MASKED*";
const CREDENTIAL_KEY = /(token|password|secret|apikey|privatekey|credential)s?$/i;

const names = fs
  .readFileSync(secretsFile, "utf8")
  .split("\n")
  .map((line) => /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line))
  .filter(Boolean)
  .map((match) => match[1]);
const values = names.map((name) => process.env[name]).filter((value) => value && value.length >= 4);

function masked(value, key) {
  if (Array.isArray(value)) return value.map((item) => masked(item, key));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([child, item]) => [child, masked(item, child)]));
  }
  const normalised = key.replace(/[-_]/g, "");
  if (typeof value === "string" && CREDENTIAL_KEY.test(normalised) && !/^\$\{[A-Za-z0-9_]+\}$/.test(value)) {
    return MASK;
  }
  return value;
}

fs.mkdirSync(path.join(bundle, "config"), { recursive: true, mode: 0o700 });
let config;
try {
  config = JSON.stringify(masked(JSON.parse(fs.readFileSync(configFile, "utf8")), ""), null, 2) + "\n";
} catch (error) {
  config = `openclaw.json could not be read as JSON (${error.code ?? error.name}); not included\n`;
}
fs.writeFileSync(path.join(bundle, "config", "openclaw.json"), config, { mode: 0o600 });

let replaced = 0;
function scrub(directory) {
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const file = path.join(directory, entry.name);
    if (entry.isDirectory()) scrub(file);
    else if (entry.isFile()) {
      const text = fs.readFileSync(file, "latin1");
      let result = text;
      for (const value of values) {
        const bytes = Buffer.from(value, "utf8").toString("latin1");
        replaced += result.split(bytes).length - 1;
        result = result.split(bytes).join(MASK);
      }
      if (result !== text) fs.writeFileSync(file, result, "latin1");
    }
  }
}
scrub(bundle);
console.log(`masked ${replaced} occurrence(s) of ${values.length} secret value(s)`);
