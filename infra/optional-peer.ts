import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// cdk-nag and cfn-guard's validator are optional peer dependencies of `token-vendor/cdk`: the construct
// works without them, and only the rule sets need them. They are loaded from the adopter's app, when
// first needed, so an app that does not install them never loads them.
const requireFromHere = createRequire(import.meta.url);

/** The peer `name`, or undefined when the app does not have it installed. */
export function optionalPeer<T>(name: string): T | undefined {
  try {
    return requireFromHere(name) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String(error).includes(`'${name}'`))
      return undefined;
    throw error;
  }
}

/** The peer `name`; when it is missing, an error that says what needs it and how to install it. */
export function requiredPeer<T>(name: string, neededBy: string): T {
  const peer = optionalPeer<T>(name);
  if (peer === undefined)
    throw new Error(
      `${neededBy} needs ${name}, which this app does not have: npm install --save-dev ${name}`,
    );
  return peer;
}

/** A file inside the installed peer `name` (its `package.json` locates it), such as its bundled rules. */
export function peerFile(name: string, ...path: string[]): string {
  const manifest = requireFromHere.resolve(`${name}/package.json`);
  return join(dirname(manifest), ...path);
}
