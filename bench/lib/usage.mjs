// Preloaded into a measured child (`node --import ./bench/lib/usage.mjs …`):
// writes its own resource usage (peak RSS, CPU) as JSON to $BENCH_USAGE_FILE
// when it exits. With BENCH_USAGE_SIGTERM=1 a SIGTERM also writes it and exits
// 143 (for runs stopped at a time cap; never set for `sendwell worker`, which
// handles SIGTERM itself).
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_USAGE_FILE;
let done = false;
function dump() {
  if (!file || done) return;
  done = true;
  const u = process.resourceUsage();
  writeFileSync(file, JSON.stringify({ maxRssKiB: u.maxRSS, userMs: u.userCPUTime / 1000, sysMs: u.systemCPUTime / 1000 }));
}
process.on('exit', dump);
if (process.env.BENCH_USAGE_SIGTERM === '1') {
  process.on('SIGTERM', () => {
    dump();
    process.exit(143);
  });
}
