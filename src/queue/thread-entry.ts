/**
 * The URL of a worker thread's module beside the caller. Under tsx (tests,
 * `node --import tsx`) the caller is .ts source and so is the thread; Node 20
 * does not run `--import` in worker threads, so a small entry registers tsx
 * there first.
 */
export function threadEntry(name: string, callerUrl: string): URL {
  if (!callerUrl.endsWith('.ts')) return new URL(`./${name}.js`, callerUrl);
  const tsx = import.meta.resolve('tsx/esm/api');
  const thread = new URL(`./${name}.ts`, callerUrl).href;
  return new URL(`data:text/javascript,${encodeURIComponent(`const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(thread)});`)}`);
}
