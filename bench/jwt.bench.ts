import { generateKeyPairSync, sign } from 'node:crypto';
import { localSigningKey } from '../lambda/keys/private-key';
import type { Signer } from '../lambda/keys/signer';
import { mintKeyPairJwt } from '../lambda/snowflake/jwt';
import { measurePair, printTable, round, writeResults } from './measure';

/** Target (DESIGN.md): minting a JWT costs at most 1.1× a bare crypto.sign RS256 signature. */
const TARGET = 1.1;

export async function jwtBench(): Promise<{ ratio: number; pass: boolean }> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = localSigningKey(privateKey, 'bench');
  const signer: Signer = { source: 'bench', currentKey: async () => key, refresh: () => {} };
  const input = Buffer.from(
    'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJYWTEyMzQ1LlNWQy5TSEEyNTY6eHh4Iiwic3ViIjoiWFkxMjM0NS5TVkMifQ',
  );

  // Interleaved batches, each warmed until stable: machine drift lands on both equally.
  const [bare, mint] = await measurePair(
    ['crypto.sign RS256 (bare)', () => sign('sha256', input, privateKey)],
    ['mintKeyPairJwt (cached key)', () => mintKeyPairJwt({ account: 'myorg-acct', user: 'svc', signer })],
  );
  const ratio = round(mint.medianUs / bare.medianUs, 2);
  const pass = ratio <= TARGET;
  printTable(`JWT minting vs a bare RS256 signature (target ≤ ${TARGET}×)`, [
    { ...bare, ratio: 1 },
    { ...mint, ratio },
  ]);
  console.log(`JWT mint / bare sign = ${ratio}× → ${pass ? 'PASS' : 'FAIL'} (target ≤ ${TARGET}×)`);
  writeResults('jwt', { rows: [bare, mint], ratio, target: TARGET, pass });
  return { ratio, pass };
}
