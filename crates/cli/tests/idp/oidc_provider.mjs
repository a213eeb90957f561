// A real OpenID Connect provider (npm oidc-provider, installed by
// scripts/setup.sh) for the OAuth/OIDC authenticator tests.
//
//   node oidc_provider.mjs [--port N] [--client-id ID] [--client-secret S]
//                          [--redirect-uri URI]... [--access-token-ttl SECONDS]
//
// Each option falls back to an environment variable (OIDC_PORT,
// OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS, space-separated).
// Port 0 (the default) lets the kernel pick a free port; once the server
// listens, one line `OIDC_ISSUER=http://127.0.0.1:<port>` goes to stdout, so
// the Rust fixture (tests/support/oidc.rs) knows where the issuer is.
//
// Test hooks, which change only what a test asks for:
// - `--access-token-ttl` shortens access tokens' lifetime (default one hour),
//   so a test can see its client refresh them; every code grant comes with a
//   refresh token (no offline_access consent dance).
// - `POST /__test/tamper` with a body of `none`, `wrong-audience`,
//   `expired-id-token` or `bad-signature` makes later token responses carry
//   an ID token that a client must refuse: re-signed with the provider's own
//   key but for another audience, or expired an hour ago; or with its claims
//   changed to another user after signing (the signature no longer matches).
//   The access and refresh tokens stay genuine.
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
const jose = await import(pathToFileURL(require.resolve('jose')).href);

function options(argv) {
  const out = { redirectUris: [] };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${key} needs a value`);
    if (key === '--port') out.port = Number(value);
    else if (key === '--client-id') out.clientId = value;
    else if (key === '--client-secret') out.clientSecret = value;
    else if (key === '--redirect-uri') out.redirectUris.push(value);
    else if (key === '--access-token-ttl') out.accessTokenTtl = Number(value);
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

// The signing key, made here (not by the library) so the tamper hook can
// sign with it too.
const KEY_ID = 'fixture-key';
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: KEY_ID, alg: 'RS256', use: 'sig' };

const TAMPER_MODES = ['none', 'wrong-audience', 'expired-id-token', 'bad-signature'];
let tamper = 'none';

// The ID token as the current tamper mode makes it.
async function tampered(idToken) {
  const [header, payload] = idToken.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const resign = (changed) => new jose.SignJWT(changed)
    .setProtectedHeader(JSON.parse(Buffer.from(header, 'base64url').toString()))
    .sign(privateKey);
  const now = Math.floor(Date.now() / 1000);
  switch (tamper) {
    case 'wrong-audience':
      return resign({ ...claims, aud: 'some-other-client', azp: 'some-other-client' });
    case 'expired-id-token':
      return resign({ ...claims, iat: now - 7200, exp: now - 3600 });
    case 'bad-signature': {
      const forged = { ...claims, sub: 'bob', preferred_username: 'bob', groups: ['staff'] };
      const body = Buffer.from(JSON.stringify(forged)).toString('base64url');
      return `${header}.${body}.${idToken.split('.')[2]}`;
    }
    default:
      return idToken;
  }
}

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
    jwks: { keys: [signingJwk] },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Everything runs on one clock: an expired token is expired at once.
    clockTolerance: 0,
    ...(opts.accessTokenTtl ? { ttl: { AccessToken: opts.accessTokenTtl } } : {}),
    async findAccount(ctx, id) {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          // `login`, `username`, `name` and `upn` are where GitHub, GitLab
          // and Azure AD put the user name; the presets read them.
          return {
            sub: id,
            preferred_username: id,
            email: account.email,
            groups: account.groups,
            login: id,
            username: id,
            name: id,
            upn: account.email,
          };
        },
      };
    },
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'groups', 'login', 'username', 'name', 'upn'],
      email: ['email'],
    },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => false },
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && tamper !== 'none' && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token) };
    }
  });
  const handle = provider.callback();
  server.on('request', (req, res) => {
    if (req.url !== '/__test/tamper') return handle(req, res);
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const mode = body.trim();
      if (req.method !== 'POST' || !TAMPER_MODES.includes(mode)) {
        res.writeHead(400).end(`POST one of: ${TAMPER_MODES.join(', ')}\n`);
        return;
      }
      tamper = mode;
      res.writeHead(204).end();
    });
  });
  console.log(`OIDC_ISSUER=${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
