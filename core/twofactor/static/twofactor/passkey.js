// Passkeys (WebAuthn) on the second step, the login page and the settings.
//
// A button with data-passkey="authenticate" or "register" runs the ceremony
// with the server's options (django-otp-webauthn, JSON with base64url
// binaries): POST data-begin-url, navigator.credentials.get/create, POST the
// result to data-complete-url, then go to data-next (or the server's
// redirect_url). Messages come translated in data-* attributes of the
// status element (#passkey-status), so the page needs no script catalogue.

const toBytes = (value) => {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
};

const toBase64url = (buffer) => {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const withIds = (list) =>
  (list || []).map((item) => ({ ...item, id: toBytes(item.id) }));

function creationOptions(json) {
  return {
    ...json,
    challenge: toBytes(json.challenge),
    user: { ...json.user, id: toBytes(json.user.id) },
    excludeCredentials: withIds(json.excludeCredentials),
  };
}

function requestOptions(json) {
  return {
    ...json,
    challenge: toBytes(json.challenge),
    allowCredentials: withIds(json.allowCredentials),
  };
}

function credentialJSON(credential) {
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: toBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = toBase64url(response.attestationObject);
    json.response.transports = response.getTransports ? response.getTransports() : [];
  } else {
    json.response.authenticatorData = toBase64url(response.authenticatorData);
    json.response.signature = toBase64url(response.signature);
    if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
  }
  return json;
}

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    },
    body: body === undefined ? "" : JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  if (!response.ok) {
    const error = new Error(data.detail || "");
    error.server = true;
    throw error;
  }
  return data;
}

async function run(button, status) {
  const register = button.dataset.passkey === "register";
  const say = (key) => {
    if (status) status.textContent = status.dataset[key] || "";
  };
  button.disabled = true;
  say("busy");
  try {
    const options = await post(button.dataset.beginUrl);
    const credential = register
      ? await navigator.credentials.create({ publicKey: creationOptions(options) })
      : await navigator.credentials.get({ publicKey: requestOptions(options) });
    let completeUrl = button.dataset.completeUrl;
    if (!register && button.dataset.next) {
      completeUrl += "?" + new URLSearchParams({ next: button.dataset.next });
    }
    const result = await post(completeUrl, credentialJSON(credential));
    say("done");
    window.location.assign(result.redirect_url || button.dataset.next || "/");
  } catch (error) {
    if (status) {
      status.textContent =
        error.server && error.message ? error.message : status.dataset.failed || "";
    }
    button.disabled = false;
  }
}

for (const button of document.querySelectorAll("[data-passkey]")) {
  const status = document.getElementById("passkey-status");
  if (!window.PublicKeyCredential) {
    button.hidden = true;
    continue;
  }
  button.addEventListener("click", () => run(button, status));
}
