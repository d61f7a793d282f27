// A partner's webhook receiver for the "send a test webhook" button: answers 2xx to every POST
// and remembers the events it got.

import { createServer } from 'node:http';

export async function startReceiver() {
  const events = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      events.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, events, close: () => server.close() };
}
