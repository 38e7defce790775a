"use strict";
// A login client with no framework: fetch, an access token kept in memory, one refresh
// and retry when the mock says token_expired, a screen for each challenge a login may
// meet (a one-time code, a new password), and every error shown as the mock sent it.

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
// ?mock=... wins, then the last address typed here, then `mockauth serve`'s default.
$("server").value = query.get("mock") || localStorage.getItem("mockauth-server") || "http://127.0.0.1:8765";
$("server").addEventListener("change", () => localStorage.setItem("mockauth-server", $("server").value));
const server = () => $("server").value.trim().replace(/\/+$/, "");

let tokens = null; // {access_token, refresh_token}; memory only, gone on reload
let challenge = null; // the mfa_token or change_token of the login in progress

class AuthError extends Error {
  constructor(status, code, description, headers = null, body = null) {
    super(description);
    this.status = status;
    this.code = code;
    this.body = body;
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
      (body && body.error_description) || response.statusText, response.headers, body);
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

function show(screen) {
  for (const id of ["login-form", "mfa-form", "password-form", "profile"]) $(id).hidden = id !== screen;
}

function signedIn(on) {
  show(on ? "profile" : "login-form");
}

// What a 403 challenge asks for: the screen, the field of its token, and a line for the log.
const CHALLENGES = {
  mfa_required: { screen: "mfa-form", token: "mfa_token", says: "the mock asks for a one-time code" },
  password_expired: { screen: "password-form", token: "change_token", says: "the password has expired: choose a new password" },
};

const POLICY_WORDS = { min_length: "characters", uppercase: "uppercase letters", lowercase: "lowercase letters",
                       digits: "digits", symbols: "symbols" };

// A login step (the password, a code, a new password) answers tokens, or the next challenge.
async function finishLogin(answer) {
  let body;
  try {
    body = await answer;
  } catch (error) {
    const asked = error instanceof AuthError && error.status === 403 && CHALLENGES[error.code];
    if (!asked || !error.body || typeof error.body[asked.token] !== "string") throw error;
    challenge = error.body[asked.token];
    log(`${error.code}: ${asked.says}`);
    if (error.body.password_policy) {
      const rules = Object.entries(error.body.password_policy).filter(([, n]) => n > 0);
      $("policy").textContent = "It needs at least " + rules.map(([rule, n]) => `${n} ${POLICY_WORDS[rule] || rule}`).join(", ") + ".";
    }
    show(asked.screen);
    const input = $(asked.screen).querySelector("input");
    input.value = "";
    input.focus();
    return;
  }
  tokens = tokenAnswer(body);
  challenge = null;
  log(`signed in; the access token lasts ${tokens.expires_in} s`);
  await loadMe();
}

function step(path, fields) {
  return call(path, { method: "POST", body: new URLSearchParams(fields) });
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
    if (challenge && (error.code === "invalid_token" || error.status === 403)) {
      challenge = null; // the challenge expired or was spent, or the account is locked now
      signedIn(false);
      log("the login was not finished: sign in again");
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
    await finishLogin(call("/auth/login", { method: "POST", body, headers }));
  });
});

$("mfa-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("verify"), () => finishLogin(step("/auth/mfa", { mfa_token: challenge, code: $("code").value.trim() })));
});

$("password-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("change-password"), () => finishLogin(step("/auth/password", {
    change_token: challenge, new_password: $("new-password").value,
  })));
});

for (const button of document.querySelectorAll("[data-cancel]")) {
  button.addEventListener("click", () => {
    challenge = null;
    showError(null);
    signedIn(false);
  });
}

$("call-me").addEventListener("click", () => busy($("call-me"), loadMe));

$("logout").addEventListener("click", () => busy($("logout"), async () => {
  await authed("/auth/logout", { method: "POST" });
  tokens = null;
  signedIn(false);
  log("signed out");
}));
