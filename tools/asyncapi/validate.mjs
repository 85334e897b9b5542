// Validates AsyncAPI documents with the official AsyncAPI parser (@asyncapi/parser).
//
// Usage: node tools/asyncapi/validate.mjs <asyncapi.json> [<more documents>...]
// Each document is read from its path, so relative $refs (json/*.json payloads) resolve.
// Prints every diagnostic, then one line per document: "VALID: <path>" or "INVALID: <path>".
// Exit code 0: all valid (warnings/infos allowed); 1: some document has diagnostics of
// severity error; 2: usage error or crash.
import { resolve } from 'node:path';
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const SEVERITY = { 0: 'error', 1: 'warning', 2: 'info', 3: 'hint' };

async function validate(parser, target) {
  const path = resolve(target);
  const { document, diagnostics } = await fromFile(parser, path).parse();
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  for (const d of diagnostics) {
    const where = (d.path || []).join('/') || '(document)';
    const line = d.range ? `:${d.range.start.line + 1}` : '';
    console.log(`${SEVERITY[d.severity] ?? d.severity} ${d.code} at ${where}${line}: ${d.message}`);
  }
  if (errors.length > 0 || !document) {
    console.log(`INVALID: ${path} (${errors.length} error(s))`);
    return false;
  }
  const channels = document.channels().length;
  const messages = document.components().messages().length;
  console.log(`VALID: ${path} (${channels} channels, ${messages} component messages)`);
  return true;
}

async function main(targets) {
  if (targets.length === 0) {
    console.error('usage: node validate.mjs <asyncapi document> [...]');
    return 2;
  }
  const parser = new Parser();
  let allValid = true;
  for (const target of targets) {
    console.log(`== ${resolve(target)}`);
    allValid = (await validate(parser, target)) && allValid;
  }
  return allValid ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`validator crashed: ${error?.stack ?? error}`);
    process.exit(2);
  },
);
