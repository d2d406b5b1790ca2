// `npm run bench`: runs every benchmark, prints its table, writes bench/results/*.json.
// Exit code 1 when a target is missed, so a regression is visible.
import { cachedVendBench } from './cached-vend.bench';
import { coldPathBench } from './cold-path.bench';
import { coldStartBench } from './cold-start.bench';
import { costBench } from './cost.bench';
import { fleetBench } from './fleet.bench';
import { gatewayBench } from './gateway.bench';
import { jwtBench } from './jwt.bench';
import { revocationBench } from './revocation.bench';

const results = [
  await jwtBench(),
  await cachedVendBench(),
  await revocationBench(),
  await gatewayBench(),
  await coldStartBench(),
  await coldPathBench(),
  await fleetBench(),
  await costBench(),
];
process.exitCode = results.every((r) => r.pass) ? 0 : 1;
