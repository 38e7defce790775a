"use strict";
// A login client with no framework: fetch, an access token kept in memory, one refresh
// and retry when the mock says token_expired, and every error shown as the mock sent it.

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
// ?mock=... wins, then the last address typed here, then `mockauth serve`'s default.
$("server").value = query.get("mock") || localStorage.getItem("mockauth-server") || "http://127.0.0.1:8765";
$("server").addEventListener("change", () => localStorage.setItem("mockauth-server", $("server").value));
const server = () => $("server").value.trim().replace(/\/+$/, "");

let tokens = null; // {access_token, refresh_token}; memory only, gone on reload

class AuthError extends Error {
  constructor(status, code, description, headers = null) {
    super(description);
    this.status = status;
    this.code = code;
    this.retryAfter = headers && headers.get("Retry-After");
    this.challenge = headers && headers.get("WWW-Authenticate");
  }
}

function log(text) {
  const line = document.createElement("li");
  line.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  $("log").prepend(line);
}

function showError(error) {
  const box = $("error");
  if (!error) { box.className = ""; box.replaceChildren(); return; }
  const code = document.createElement("code");
  code.textContent = error.code;
  const status = error.status ? `HTTP ${error.status} ` : "";
  const parts = [status, code, ` — ${error.message}`];
  if (error.retryAfter) parts.push(` Retry after ${error.retryAfter} s.`);
  if (error.challenge) parts.push(` (WWW-Authenticate: ${error.challenge})`);
  box.replaceChildren(...parts);
  box.className = "shown";
  log(`error: ${status}${error.code}`);
}

async function call(path, init = {}) {
  const started = performance.now();
  let response;
  try {
    response = await fetch(server() + path, init);
  } catch {
    throw new AuthError(0, "network_error",
      "No response: the connection was closed or refused, or the browser blocked it (CORS).");
  }
  const took = (performance.now() - started) / 1000;
  if (took > 0.5) log(`${path} took ${took.toFixed(1)} s`);
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new AuthError(response.status, "malformed_response",
        `The answer is not JSON: ${JSON.stringify(text.slice(0, 40))}…`, response.headers);
    }
  }
  if (!response.ok) {
    throw new AuthError(response.status, (body && body.error) || `http_${response.status}`,
      (body && body.error_description) || response.statusText, response.headers);
  }
  return body;
}

function tokenAnswer(body) {
  if (!body || typeof body.access_token !== "string") {
    throw new AuthError(200, "incomplete_response", "The answer has no access_token.");
  }
  return body;
}

async function refresh() {
  const body = new URLSearchParams({ refresh_token: tokens.refresh_token });
  tokens = tokenAnswer(await call("/auth/refresh", { method: "POST", body }));
}

async function authed(path, init = {}) {
  const send = () => call(path, { ...init, headers: { ...init.headers, Authorization: `Bearer ${tokens.access_token}` } });
  try {
    return await send();
  } catch (error) {
    if (error.code !== "token_expired" || !tokens.refresh_token) throw error;
    log("token_expired: refreshing the access token");
    try {
      await refresh();
    } catch (failure) {
      tokens = null; // the refresh token is refused too: the session is over
      signedIn(false);
      log("the refresh failed: sign in again");
      throw failure;
    }
    log("refreshed the access token; retrying " + path);
    return await send();
  }
}

function signedIn(on) {
  $("login-form").hidden = on;
  $("profile").hidden = !on;
}

async function loadMe() {
  const me = await authed("/auth/me");
  $("signed-in").textContent = `Signed in as ${me.sub}`;
  $("me").textContent = JSON.stringify(me, null, 2);
  signedIn(true);
  log(`/auth/me: ${me.sub}`);
}

async function busy(button, work) {
  button.disabled = true;
  try {
    await work();
    showError(null);
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    showError(error);
    if (tokens && error.status === 401 && error.code !== "token_expired") {
      tokens = null; // the session is over: the mock refused the token or its refresh
      signedIn(false);
      log("signed out: sign in again");
    }
  } finally {
    button.disabled = false;
  }
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("login"), async () => {
    const body = new URLSearchParams({ username: $("username").value, password: $("password").value });
    const headers = $("ask-mode").value ? { "X-Mockauth-Mode": $("ask-mode").value } : {};
    tokens = tokenAnswer(await call("/auth/login", { method: "POST", body, headers }));
    log(`signed in; the access token lasts ${tokens.expires_in} s`);
    await loadMe();
  });
});

$("call-me").addEventListener("click", () => busy($("call-me"), loadMe));

$("logout").addEventListener("click", () => busy($("logout"), async () => {
  await authed("/auth/logout", { method: "POST" });
  tokens = null;
  signedIn(false);
  log("signed out");
}));
