'use strict';
// Baseline server for Tests/Bench/bench.sh: the smallest reasonable Node.js
// equivalent of the gateway's health endpoint (core `http` module only).
//
//   PORT=8081 node Tests/Bench/node-hello.js
//
// GET /health -> 200 {"status":"ok"} (application/json; charset=utf-8),
// keep-alive; anything else -> 404. Prints "listening PORT" once bound.

const http = require('http');

const port = Number.parseInt(process.env.PORT || '', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('node-hello: set PORT to a valid TCP port');
  process.exit(2);
}

const BODY = Buffer.from('{"status":"ok"}');
const NOT_FOUND = Buffer.from('{"error":"not found"}');

const server = http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (req.method === 'GET' && path === '/health') {
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': BODY.length,
    });
    res.end(BODY);
  } else {
    res.writeHead(404, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': NOT_FOUND.length,
    });
    res.end(NOT_FOUND);
  }
});

// Node closes idle keep-alive sockets after 5 s by default, which would make
// the idle-connection memory test measure nothing. Disable that timeout.
server.keepAliveTimeout = 0;

server.on('clientError', (err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  else socket.destroy();
});

server.listen({ host: '127.0.0.1', port, backlog: 4096 }, () => {
  console.log(`listening ${server.address().port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}
