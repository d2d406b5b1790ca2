// `npm run build` (and `npm run openapi`): write openapi.json from the API contract. A test fails when
// the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../lambda/api/openapi';

const target = fileURLToPath(new URL('../openapi.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
process.stderr.write(`wrote ${target}\n`);
