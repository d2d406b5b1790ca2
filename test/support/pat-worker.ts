/**
 * One "container" of the PAT cap test (test/e2e/pat-cap.test.ts), run as its own process: the real
 * runtime with its own memory, the lease table on the test's dynalite, KMS over HTTP (the stand-in the
 * other containers share), Snowflake the test's emulator. It vends the PATs the parent asks for, all at
 * once, and answers with each outcome.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { parseConfig } from '../../lambda/config/load';
import type { ConfigInput } from '../../lambda/config/schema';
import { createRuntime } from '../../lambda/runtime';
import { publicError } from '../../lambda/vending/public-error';
import { dynamoClient } from './shared-cache';

export interface PatWorkerSetup {
  readonly config: ConfigInput;
  readonly env: Record<string, string>;
  readonly kmsUrl: string;
  readonly dynamoEndpoint: string;
}
export interface PatAsk {
  readonly id: number;
  readonly principals: readonly string[];
}
export type PatOutcome = { readonly principal: string } & (
  | { readonly ok: true; readonly token: string; readonly tokenName: string }
  | { readonly ok: false; readonly code: string; readonly retryAfterSeconds?: number }
);

const setup = JSON.parse(process.env.PAT_SETUP ?? '{}') as PatWorkerSetup;
const kms = new KMSClient({
  region: 'us-east-1',
  endpoint: setup.kmsUrl,
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const dynamodb = dynamoClient(setup.dynamoEndpoint);
const runtime = await createRuntime({
  config: parseConfig(setup.config),
  kms: () => kms,
  dynamodb: () => dynamodb,
  env: setup.env,
  retry: { baseDelayMs: 10, maxDelayMs: 100 },
});

process.on('message', (ask: PatAsk) => {
  void Promise.all(
    ask.principals.map(async (principal): Promise<PatOutcome> => {
      try {
        const { response } = await runtime.vendor.vend(
          { kind: 'http', principalArn: principal },
          { tokenType: 'pat', target: 'tableau', role: 'REPORTING_READER' },
          { deadline: Date.now() + 25_000 },
        );
        if (response.tokenType !== 'programmatic-access-token') throw new Error('not a PAT');
        return { principal, ok: true, token: response.token, tokenName: response.tokenName };
      } catch (error) {
        const e = publicError(error);
        return {
          principal,
          ok: false,
          code: e.code,
          ...(e.retryAfterSeconds !== undefined ? { retryAfterSeconds: e.retryAfterSeconds } : {}),
        };
      }
    }),
  ).then((results) => process.send!({ id: ask.id, results }));
});
process.send!({ ready: true });
