// A real OpenID Connect provider for the test suite, built on the `oidc-provider` package.
//
//   node tests/js/oidc_provider.mjs '<json config>'
//
// Config: {clientId, clientSecret, redirectUris, postLogoutRedirectUris, users, groupsClaim,
// groupsInIdToken}. users maps a subject to {username, email, groups}. It listens on a free
// loopback port and prints "READY <port>" once it serves. Test-only control endpoints:
//   PUT /__test__/users   body: the users map (change someone's groups between sign-ins)
//   PUT /__test__/mode    body: {"signWith": "published" | "unpublished-key" | "published-kid-wrong-key",
//                                "claims": {...}}
// The mode makes the token endpoint hand out an ID token re-signed by a key the provider does
// not publish, as an attacker holding the code would; "claims" overrides claims (an audience
// or issuer meant for someone else), re-signed with the key named by signWith.
import http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || '{}');
const groupsClaim = config.groupsClaim || 'groups';
let users = config.users || {};
let mode = { signWith: 'published' };

const published = await jose.generateKeyPair('RS256', { extractable: true });
const rogue = await jose.generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await jose.exportJWK(published.privateKey)), kid: 'published-1', alg: 'RS256', use: 'sig' };

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return `<!doctype html><html><head><title>Test provider sign-in</title></head><body>
<h1>Test provider</h1>${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}">
<label for="login">User</label> <input id="login" name="login" autofocus>
<button type="submit">Sign in</button></form></body></html>`;
}

let provider;

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    // A first-party client: consent is granted for what it asked.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (req.method === 'POST') {
    const login = new URLSearchParams(await readBody(req)).get('login') || '';
    if (!users[login]) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(loginPage(uid, `No such user: ${login}`));
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  return res.end(loginPage(uid));
}

async function control(req, res, path) {
  const body = JSON.parse((await readBody(req)) || '{}');
  if (path === '/__test__/users') users = body;
  else if (path === '/__test__/mode') mode = body;
  else { res.writeHead(404); return res.end(); }
  res.writeHead(204);
  return res.end();
}

const server = http.createServer(async (req, res) => {
  try {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    if (pathname === '/favicon.ico') { res.writeHead(204); return res.end(); }
    const match = pathname.match(/^\/interaction\/([^/]+)$/);
    if (match) return await interaction(req, res, match[1]);
    if (pathname.startsWith('/__test__/') && req.method === 'PUT') return await control(req, res, pathname);
    return provider.callback()(req, res);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    return res.end(String(error));
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  provider = new Provider(issuer, {
    clients: [{
      client_id: config.clientId,
      client_secret: config.clientSecret,
      redirect_uris: config.redirectUris,
      post_logout_redirect_uris: config.postLogoutRedirectUris || [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['test-provider-cookie-key'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: [groupsClaim],
    },
    // true (the spec's default): scope claims go to userinfo only, so the portal must ask it.
    conformIdTokenClaims: !config.groupsInIdToken,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (ctx, sub) => {
      if (!users[sub]) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          email: users[sub].email,
          email_verified: true,
          preferred_username: users[sub].username || sub,
          name: users[sub].username || sub,
          [groupsClaim]: users[sub].groups || [],
        }),
      };
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    const tampered = mode.signWith !== 'published' || mode.claims;
    if (ctx.path !== '/token' || !tampered || !ctx.body?.id_token) return;
    const claims = { ...jose.decodeJwt(ctx.body.id_token), ...(mode.claims || {}) };
    const kid = mode.signWith === 'unpublished-key' ? 'unpublished-1' : 'published-1';
    const key = mode.signWith === 'published' ? published.privateKey : rogue.privateKey;
    ctx.body = {
      ...ctx.body,
      id_token: await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key),
    };
  });
  process.stdout.write(`READY ${port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
