'use strict';
// better-sqlite3 as the sendmail bundle sees it (scripts/bundle-sendmail.mjs maps the bundle's
// `import Sqlite from 'better-sqlite3'` here). Its JavaScript is bundled, so V8's code cache covers
// it, instead of a dozen small files going through Node's module loader (resolution, package scope
// lookups and compiling each file: ~10 ms of a `sendmail -odq` run); its native addon is loaded from
// the installed package, without `bindings` searching for it. Only when the installed package is
// the version bundled and has the addon where its install puts it (build/Release); otherwise the
// installed package is used as it is, as without the bundle.
const BundledDatabase = require('better-sqlite3/lib/database.js');
const SqliteError = require('better-sqlite3/lib/sqlite-error.js');

/** The installed package's own entry, for a mismatch (a name esbuild leaves alone). */
const PACKAGE = 'better-sqlite3';

/** The native addon of the installed package, or null: use that package as it is. */
let addon;

function nativeAddon() {
  if (addon !== undefined) return addon;
  addon = null;
  try {
    const pkgFile = require.resolve(`${PACKAGE}/package.json`);
    const pkg = JSON.parse(require('node:fs').readFileSync(pkgFile, 'utf8'));
    // eslint-disable-next-line no-undef -- defined by the build
    if (pkg.version === __BUNDLED_BETTER_SQLITE3_VERSION__) {
      addon = require(require('node:path').join(pkgFile, '..', 'build', 'Release', 'better_sqlite3.node'));
    }
  } catch {
    addon = null;
  }
  return addon;
}

function Database(filename, options) {
  const native = nativeAddon();
  if (native === null) {
    const Installed = require(PACKAGE);
    return new Installed(filename, options);
  }
  return new BundledDatabase(filename, { ...options, nativeBinding: native });
}
Database.prototype = BundledDatabase.prototype;
Database.SqliteError = SqliteError;
module.exports = Database;
