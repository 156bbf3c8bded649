// Tests that run the library in a separate Node process import it from dist/, so build
// it first: a stale dist/ would test old code.
import { execa } from 'execa';

export default async function setup() {
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
