// The one way the pages call the JSON APIs: bearer token, JSON or multipart body, and the API's
// error format ({"error": {code, message, message_zh, fields: [{field, message, message_zh}]}})
// turned into an ApiError.

import { pick, t } from '/assets/i18n.js';

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message);
    this.status = status;
    this.error = error; // {code, message, message_zh, fields?}; null for a network failure
  }

  /** The message in the chosen language. */
  text() {
    return this.error ? pick(this.error, 'message') : t('common.network');
  }

  get fields() {
    return this.error?.fields ?? [];
  }
}

export async function api(method, path, { token, json, form } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch {
    throw new ApiError(0, null);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? { code: 'http', message: `HTTP ${response.status}`, message_zh: `HTTP ${response.status}` };
    throw new ApiError(response.status, error);
  }
  return data;
}

/** A file behind the API (e.g. an uploaded document) as a blob: URL the page may show inline. */
export async function blobUrl(path, token) {
  let response;
  try {
    response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  } catch {
    throw new ApiError(0, null);
  }
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(response.status, data?.error ?? { code: 'http', message: `HTTP ${response.status}` });
  }
  return URL.createObjectURL(await response.blob());
}
