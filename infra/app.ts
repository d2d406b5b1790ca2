// `cdk synth` / `cdk deploy` entry (cdk.json). The config file comes from context: -c config=path.
import { TokenVendorError } from '../lambda/errors';
import { buildApp } from './build-app';

try {
  buildApp().app.synth();
} catch (error) {
  // A bad or missing config is the user's input: say what to fix (every bad field), not where in our
  // code it was noticed.
  if (!(error instanceof TokenVendorError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 1;
}
