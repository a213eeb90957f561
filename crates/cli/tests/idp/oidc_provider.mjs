// A real OpenID Connect provider (npm oidc-provider, installed by
// scripts/setup.sh) for the OAuth/OIDC authenticator tests.
//
//   node oidc_provider.mjs [--port N] [--client-id ID] [--client-secret S]
//                          [--redirect-uri URI]...
//
// Each option falls back to an environment variable (OIDC_PORT,
// OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS, space-separated).
// Port 0 (the default) lets the kernel pick a free port; once the server
// listens, one line `OIDC_ISSUER=http://127.0.0.1:<port>` goes to stdout, so
// the Rust fixture (tests/support/oidc.rs) knows where the issuer is.
//
// Login uses oidc-provider's dev interactions: an HTML login form and a
// consent form that a test submits with plain HTTP. The form accepts any
// password; findAccount knows only the accounts below (what the provider
// does with another login name is not tested). Their claims:
// preferred_username, email and groups.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const oidcDir = process.env.FERROHUB_OIDC || '/opt/ferrohub/oidc';
// The module lives outside the repository (setup.sh), so resolve it from there.
const require = createRequire(path.join(oidcDir, 'package.json'));
const { default: Provider } = await import(pathToFileURL(require.resolve('oidc-provider')).href);

function options(argv) {
  const out = { redirectUris: [] };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${key} needs a value`);
    if (key === '--port') out.port = Number(value);
    else if (key === '--client-id') out.clientId = value;
    else if (key === '--client-secret') out.clientSecret = value;
    else if (key === '--redirect-uri') out.redirectUris.push(value);
    else throw new Error(`unknown option ${key}`);
  }
  const env = process.env;
  out.port ??= Number(env.OIDC_PORT || 0);
  out.clientId ??= env.OIDC_CLIENT_ID || 'ferrohub';
  out.clientSecret ??= env.OIDC_CLIENT_SECRET || 'hubsecret';
  if (!out.redirectUris.length) {
    out.redirectUris = (env.OIDC_REDIRECT_URIS || 'http://127.0.0.1:8000/hub/oauth_callback')
      .split(' ').filter(Boolean);
  }
  return out;
}

// The test accounts (the same people as the LDAP fixture's directory).
const ACCOUNTS = {
  alice: { email: 'alice@example.org', groups: ['staff'] },
  bob: { email: 'bob@example.org', groups: ['students'] },
};

const opts = options(process.argv);
const server = http.createServer();
server.listen(opts.port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: opts.clientId,
      client_secret: opts.clientSecret,
      redirect_uris: opts.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }],
    async findAccount(ctx, id) {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, preferred_username: id, email: account.email, groups: account.groups };
        },
      };
    },
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups'], email: ['email'] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => false },
  });
  server.on('request', provider.callback());
  console.log(`OIDC_ISSUER=${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
