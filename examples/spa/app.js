// A single-page app signing in against mockauth: authorization code flow with PKCE,
// through oidc-client-ts (the global `oidc`, vendored beside this page).

const params = new URLSearchParams(location.search);
// Where the mock runs, kept across the redirect to its login page and back.
const authority = params.get("mock") || sessionStorage.getItem("mock") || "http://127.0.0.1:8765";
sessionStorage.setItem("mock", authority);
const here = location.origin + location.pathname;

const manager = new oidc.UserManager({
  authority,                      // discovery: {authority}/.well-known/openid-configuration
  client_id: "demo-spa",          // a public client: no secret, PKCE (S256) required
  redirect_uri: here,             // any loopback port and path is registered for demo-spa
  post_logout_redirect_uri: here,
  response_type: "code",
  scope: "openid profile email",
});

async function api(url, user) {
  const answer = await fetch(url, { headers: { Authorization: `Bearer ${user.access_token}` } });
  return JSON.stringify(await answer.json(), null, 2);
}

async function show(user) {
  document.querySelector("#signed-out").hidden = !!user;
  document.querySelector("#signed-in").hidden = !user;
  if (!user) return;
  document.querySelector("#who").textContent = `Signed in as ${user.profile.sub}`;
  const metadata = await manager.metadataService.getMetadata();
  document.querySelector("#userinfo").textContent = await api(metadata.userinfo_endpoint, user);
  document.querySelector("#me").textContent = await api(`${authority}/auth/me`, user);
}

function fail(error) {
  const box = document.querySelector("#error");
  box.textContent = `${error.error || error.name}: ${error.error_description || error.message}`;
  box.hidden = false;
}

async function start() {
  document.querySelector("#authority").textContent = authority;
  if (params.has("code") || params.has("error")) {
    // Back from the login page: exchange the code (with the PKCE verifier) for tokens.
    const user = await manager.signinRedirectCallback();
    history.replaceState(null, "", here);
    return show(user);
  }
  return show(await manager.getUser());
}

document.querySelector("#sign-in").onclick = () => manager.signinRedirect().catch(fail);
document.querySelector("#sign-out").onclick = () => manager.signoutRedirect().catch(fail);
document.querySelector("#refresh").onclick = () => manager.signinSilent().then(show).catch(fail);
start().catch(fail);
