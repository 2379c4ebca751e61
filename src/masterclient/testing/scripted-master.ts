// Test support: an RpcServer that stands in for a master, answering the Master methods
// the master client uses with whatever the test scripts. Unit tests of the client and
// of the CLI use it; the real master's behaviour is tested with the master.
import { createServer } from 'node:net';
import { AtollError } from '../../errors/atoll-error.js';
import { StatusCode } from '../../proto/generated/common.js';
import {
  AdminResponse,
  ClusterInfoResponse,
  Master,
  RegisterNodeResponse,
  VolumeView,
  type AdminRequest,
  type GetVolumeViewRequest,
  type RegisterNodeRequest,
} from '../../proto/generated/master.js';
import { RpcServer, type CallContext } from '../../rpc/index.js';

export type Scripted<Request, Response> = (request: Request, context: CallContext) => Response | Promise<Response>;

export interface MasterScript {
  clusterInfo: Scripted<Record<string, never>, ClusterInfoResponse>;
  registerNode: Scripted<RegisterNodeRequest, RegisterNodeResponse>;
  getVolumeView: Scripted<GetVolumeViewRequest, VolumeView>;
  admin: Scripted<AdminRequest, AdminResponse>;
}

export interface ScriptedMaster {
  readonly server: RpcServer;
  readonly address: string;
  // Replace entries to script this master; the defaults answer UNAVAILABLE.
  readonly script: MasterScript;
  // Calls received, by method name ('ClusterInfo', 'GetVolumeView', ...).
  readonly calls: Map<string, number>;
  // Requests received, newest last, by method name.
  readonly requests: Map<string, unknown[]>;
  callsTo(method: string): number;
}

const unscripted = (method: string) => (): never => {
  throw new AtollError(StatusCode.UNAVAILABLE, `${method} is not scripted in this test`);
};

export async function startScriptedMaster(secret: string, name = 'scripted-master'): Promise<ScriptedMaster> {
  const server = new RpcServer({ secret, instance: name });
  const calls = new Map<string, number>();
  const requests = new Map<string, unknown[]>();
  const script: MasterScript = {
    clusterInfo: unscripted('ClusterInfo'),
    registerNode: unscripted('RegisterNode'),
    getVolumeView: unscripted('GetVolumeView'),
    admin: unscripted('Admin'),
  };
  const record = (method: string, request: unknown): void => {
    calls.set(method, (calls.get(method) ?? 0) + 1);
    const list = requests.get(method) ?? [];
    list.push(request);
    requests.set(method, list);
  };
  server.handle(Master.clusterInfo, async (request, context) => {
    record('ClusterInfo', request);
    return ClusterInfoResponse.create(await script.clusterInfo({}, context));
  });
  server.handle(Master.registerNode, async (request, context) => {
    record('RegisterNode', request);
    return RegisterNodeResponse.create(await script.registerNode(request, context));
  });
  server.handle(Master.getVolumeView, async (request, context) => {
    record('GetVolumeView', request);
    return VolumeView.create(await script.getVolumeView(request, context));
  });
  server.handle(Master.admin, async (request, context) => {
    record('Admin', request);
    return AdminResponse.create(await script.admin(request, context));
  });
  const port = await server.listen('127.0.0.1', 0);
  return { server, address: `127.0.0.1:${port}`, script, calls, requests, callsTo: (method) => calls.get(method) ?? 0 };
}

// A JSON admin answer as a master gives it.
export function adminAnswer(httpStatus: number, body: unknown, handledBy: string): AdminResponse {
  return AdminResponse.create({ httpStatus, bodyJson: body === undefined ? '' : JSON.stringify(body), handledBy });
}

// An address nothing listens on: a port the kernel handed out and that was closed again.
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}
