// `cdk synth` / `cdk deploy` entry (cdk.json). The config file comes from context: -c config=path.
import { buildApp } from './build-app';

buildApp().app.synth();
