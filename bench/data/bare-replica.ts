// The baseline of bench:data: the same three-replica write and read topology as the
// datanodes, built from nothing but net.Socket, node:fs and zlib's CRC32, written only for
// the benchmark. It shows what this machine and Node can do for the work itself (every
// byte crosses loopback to the leader and from it to two followers, is CRC-checked on
// each replica and written to a file on each), so that the datanodes' figures can be read
// against it rather than against a local disk alone.
//
// A process is one replica: `node bare-replica.js <directory> [<followerPort>,...]`; it
// prints its port as one JSON line and exits when stdin closes. A replica given follower
// ports leads: it writes each packet locally and forwards it to every follower at once,
// and answers when all have it (the datanodes' primary-backup append). Frames are those
// of bench:rpc's bare echo ([u32 length][u32 id][body]); a body is a 21-byte request
// head, [op u8][stream u32][offset f64][length u32][crc u32], then the packet's bytes.
// Ops: write a packet at offset (CRC checked), sync the stream's file (fdatasync, also
// forwarded), read length bytes at offset (answered with [crc u32][bytes]), remove the
// stream's file.
import { crc32 } from 'node:zlib';
import { createServer } from 'node:net';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BareDecoder, BareEchoClient, CoalescingWriter, frameHead } from '../rpc/bare-echo.js';

export const bareOp = { write: 1, sync: 2, read: 3, remove: 4 } as const;
export const bareHeadBytes = 21;

export function bareRequest(op: number, stream: number, offset: number, length: number, crc: number): Buffer {
  const head = Buffer.allocUnsafe(bareHeadBytes);
  head.writeUInt8(op, 0);
  head.writeUInt32BE(stream, 1);
  head.writeDoubleBE(offset, 5);
  head.writeUInt32BE(length, 13);
  head.writeUInt32BE(crc >>> 0, 17);
  return head;
}

async function serve(directory: string, followerPorts: number[]): Promise<void> {
  const followers = await Promise.all(followerPorts.map((port) => BareEchoClient.connect('127.0.0.1', port)));
  const files = new Map<number, Promise<FileHandle>>();
  const fileOf = (stream: number): Promise<FileHandle> => {
    let file = files.get(stream);
    if (file === undefined) {
      file = open(join(directory, `stream-${stream}`), 'w+');
      files.set(stream, file);
    }
    return file;
  };
  const empty = Buffer.alloc(0);
  const handle = async (body: Buffer): Promise<Buffer> => {
    const op = body.readUInt8(0);
    const stream = body.readUInt32BE(1);
    const offset = body.readDoubleBE(5);
    const length = body.readUInt32BE(13);
    const crc = body.readUInt32BE(17);
    const bytes = body.subarray(bareHeadBytes);
    if (op === bareOp.write) {
      if (crc32(bytes) >>> 0 !== crc) throw new Error(`bare replica: packet CRC mismatch at ${offset}`);
      const file = await fileOf(stream);
      await Promise.all([file.write(bytes, 0, bytes.length, offset), ...followers.map((follower) => follower.call(body.subarray(0, bareHeadBytes), bytes))]);
      return empty;
    }
    if (op === bareOp.sync) {
      await Promise.all([(await fileOf(stream)).datasync(), ...followers.map((follower) => follower.call(body.subarray(0, bareHeadBytes)))]);
      return empty;
    }
    if (op === bareOp.read) {
      const answer = Buffer.allocUnsafe(4 + length);
      const { bytesRead } = await (await fileOf(stream)).read(answer, 4, length, offset);
      answer.writeUInt32BE(crc32(answer.subarray(4, 4 + bytesRead)) >>> 0, 0);
      return answer.subarray(0, 4 + bytesRead);
    }
    if (op === bareOp.remove) {
      const file = files.get(stream);
      files.delete(stream);
      if (file !== undefined) await (await file).close();
      await rm(join(directory, `stream-${stream}`), { force: true });
      await Promise.all(followers.map((follower) => follower.call(body.subarray(0, bareHeadBytes))));
      return empty;
    }
    throw new Error(`bare replica: unknown op ${op}`);
  };
  const server = createServer({ noDelay: true }, (socket) => {
    const writer = new CoalescingWriter(socket);
    const decoder = new BareDecoder((id, body) => {
      handle(body).then(
        (answer) => {
          writer.write(frameHead(id, answer.length));
          if (answer.length > 0) writer.write(answer);
        },
        (error: unknown) => {
          process.stderr.write(`${String(error)}\n`);
          socket.destroy();
        },
      );
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

if (process.argv[1] !== undefined && process.argv[1].endsWith('bare-replica.js') && process.argv[2] !== undefined) {
  await serve(process.argv[2], (process.argv[3] ?? '').split(',').filter((port) => port !== '').map(Number));
}
