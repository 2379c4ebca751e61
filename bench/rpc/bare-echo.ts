// The baseline of bench:rpc: the plainest fast framing over net.Socket, written only for
// the benchmark. Frame = [u32 length][u32 id][body]; the server echoes every frame back.
// Both sides coalesce what they write in one tick into one write, as the real layer does,
// so the comparison measures what the RPC layer adds (protobuf, dispatch, checksums,
// deadlines, authentication), not a naive baseline.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class CoalescingWriter {
  private parts: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;
  constructor(private readonly socket: Socket) {}

  write(part: Buffer): void {
    this.parts.push(part);
    this.bytes += part.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const parts = this.parts;
    this.parts = [];
    const small = this.bytes < 65536;
    this.bytes = 0;
    if (small) {
      this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      return;
    }
    this.socket.cork();
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
  }
}

// Splits a byte stream into frames. Chunks are kept in a list and joined once a frame is
// complete, so a large frame costs one copy (a frame inside one chunk costs none).
export class BareDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  constructor(private readonly onFrame: (id: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 8) return;
      if (this.chunks[0]!.length < 8) this.join();
      const head = this.chunks[0]!;
      const length = head.readUInt32BE(0);
      if (this.buffered < 8 + length) return;
      if (head.length < 8 + length) this.join();
      const first = this.chunks[0]!;
      this.onFrame(first.readUInt32BE(4), first.subarray(8, 8 + length));
      const rest = first.subarray(8 + length);
      this.buffered -= 8 + length;
      if (rest.length === 0) this.chunks.shift();
      else this.chunks[0] = rest;
    }
  }

  private join(): void {
    this.chunks = [Buffer.concat(this.chunks, this.buffered)];
  }
}

export function frameHead(id: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32BE(length, 0);
  head.writeUInt32BE(id, 4);
  return head;
}

export function startBareEchoServer(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ noDelay: true }, (socket) => {
    const writer = new CoalescingWriter(socket);
    const decoder = new BareDecoder((id, body) => {
      writer.write(frameHead(id, body.length));
      writer.write(body);
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, host, () => resolve({ server, port: (server.address() as { port: number }).port })));
}

export class BareEchoClient {
  private readonly writer: CoalescingWriter;
  private readonly pending = new Map<number, (body: Buffer) => void>();
  private nextId = 1;

  private constructor(private readonly socket: Socket) {
    this.writer = new CoalescingWriter(socket);
    const decoder = new BareDecoder((id, body) => {
      const resolve = this.pending.get(id);
      this.pending.delete(id);
      resolve?.(body);
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  }

  static connect(host: string, port: number): Promise<BareEchoClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true }, () => resolve(new BareEchoClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one frame; resolves with the body of the frame answered with its id. */
  echo(body: Buffer): Promise<Buffer> {
    return this.call(body);
  }

  /** Sends one frame whose body is the parts in order; resolves with the answer's body. */
  call(...parts: Buffer[]): Promise<Buffer> {
    const id = this.nextId++ >>> 0;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.writer.write(frameHead(id, parts.reduce((sum, part) => sum + part.length, 0)));
      for (const part of parts) if (part.length > 0) this.writer.write(part);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
