// The Node.js side of the WebSocket broadcast benchmark (Debian's node-ws): clients connect to
// /broadcast; a text message "start COUNT SIZE" from any of them makes the server send COUNT
// text messages of SIZE bytes to every connected client, back to back; "paced COUNT SIZE" sends
// one broadcast per event-loop turn (setImmediate). Each message starts with the send time
// (CLOCK_MONOTONIC nanoseconds, 20 digits) so the load client can measure delivery latency.
const http = require('http');
const { WebSocketServer } = require('/usr/share/nodejs/ws');

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const wss = new WebSocketServer({ server, path: '/broadcast' });
const clients = new Set();

function payload(size) {
    const stamp = process.hrtime.bigint().toString().padStart(20, '0');
    return stamp + 'x'.repeat(Math.max(0, size - stamp.length));
}

wss.on('connection', (socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('message', (data) => {
        const [command, count, size] = data.toString().split(' ');
        const broadcast = () => {
            const text = payload(Number(size));
            for (const client of clients) client.send(text);
        };
        if (command === 'start') {
            for (let round = 0; round < Number(count); round++) broadcast();
        } else if (command === 'paced') {
            let round = 0;
            const next = () => { broadcast(); if (++round < Number(count)) setImmediate(next); };
            next();
        }
    });
});

server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
