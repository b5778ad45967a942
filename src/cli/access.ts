// `strata login`, `context`, `whoami`, `teams`, `projects`, `users`, `service-accounts`, `tokens`.
import type { Command } from 'commander';
import { StrataClient, seg } from '../sdk/index.ts';
import { readConfig, writeConfig, configPath } from './config.ts';
import { commandContext, parseDuration } from './context.ts';
import { makeOut } from './output.ts';

type Row = Record<string, unknown>;

function membersCommands(parent: Command, scope: 'teams' | 'projects', noun: string): void {
  parent
    .command('members')
    .argument('<name>', `${noun} name`)
    .description(`list role bindings on a ${noun}`)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ members: Row[] }>(`/api/v1/${scope}/${seg(name)}/members`);
      out.table(r, r.members, ['principal', 'kind', 'role', 'createdAt']);
    });
  parent
    .command('grant')
    .argument('<name>', `${noun} name`)
    .argument('<principal>', 'user or service account')
    .argument('<role>', 'viewer, editor or admin')
    .description(`grant a role on a ${noun} (you cannot grant above your own role)`)
    .action(async (name: string, principal: string, role: string, _o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.put<Row>(`/api/v1/${scope}/${seg(name)}/members/${seg(principal)}`, { role });
      out.record(r, ['principal', 'kind', 'role', 'createdAt']);
    });
  parent
    .command('revoke')
    .argument('<name>', `${noun} name`)
    .argument('<principal>', 'user or service account')
    .description(`remove a principal's role on a ${noun}`)
    .action(async (name: string, principal: string, _o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      await client.delete(`/api/v1/${scope}/${seg(name)}/members/${seg(principal)}`);
      out.line(`removed ${principal} from ${noun} ${name}`);
    });
}

export function registerAccess(program: Command): void {
  program
    .command('login')
    .description('check a server URL and token (the global --server and --token) and save them as a named context, made current')
    .option('--name <context>', 'context name', 'default')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ server?: string; token?: string; name: string; json?: boolean }>();
      if (opts.server === undefined || opts.token === undefined) throw new Error('login needs --server URL and --token TOKEN');
      const out = makeOut(opts.json === true);
      const client = new StrataClient({ server: opts.server, token: opts.token });
      const me = await client.get<{ name: string }>('/api/v1/whoami');
      const cfg = readConfig();
      cfg.contexts[opts.name] = { server: opts.server.replace(/\/+$/, ''), token: opts.token };
      cfg.current = opts.name;
      writeConfig(cfg);
      out.line(`logged in to ${opts.server} as ${me.name}; context '${opts.name}' saved in ${configPath()}`);
    });

  const context = program.command('context').description('named server/token pairs');
  context
    .command('list')
    .description('list contexts')
    .action((_o: unknown, cmd: Command) => {
      const out = makeOut(cmd.optsWithGlobals<{ json?: boolean }>().json === true);
      const cfg = readConfig();
      const rows = Object.entries(cfg.contexts).map(([name, c]) => ({ current: name === cfg.current ? '*' : '', name, server: c.server }));
      out.table(rows, rows, ['current', 'name', 'server']);
    });
  context
    .command('use')
    .argument('<name>')
    .description('make a context current')
    .action((name: string) => {
      const cfg = readConfig();
      if (cfg.contexts[name] === undefined) throw new Error(`no context named '${name}': see \`strata context list\``);
      cfg.current = name;
      writeConfig(cfg);
      process.stdout.write(`current context: ${name}\n`);
    });

  program
    .command('whoami')
    .description('show the caller and its role bindings')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out, server } = commandContext(cmd);
      const me = await client.get<{ name: string; kind: string; platformAdmin: boolean; bindings: Row[] }>('/api/v1/whoami');
      if (out.json) return out.record(me);
      out.line(`${me.name} (${me.kind}${me.platformAdmin ? ', platform admin' : ''}) at ${server}`);
      if (me.bindings.length > 0) out.table(me.bindings, me.bindings, ['scopeKind', 'scopeId', 'role']);
    });

  const teams = program.command('teams').description('teams own projects and (later) quotas');
  teams
    .command('list')
    .description('teams you can see')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ teams: Row[] }>('/api/v1/teams');
      out.table(r, r.teams, ['name', 'id', 'createdAt']);
    });
  teams
    .command('create')
    .argument('<name>')
    .description('create a team (platform administrators)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.post<Row>('/api/v1/teams', { name }), ['name', 'id', 'createdAt']);
    });
  teams
    .command('get')
    .argument('<name>')
    .description('show a team')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.get<Row>(`/api/v1/teams/${seg(name)}`));
    });
  membersCommands(teams, 'teams', 'team');

  const projects = program.command('projects').description('projects: the namespace of runs, models, jobs, secrets');
  projects
    .command('list')
    .option('--team <team>', 'only this team')
    .description('projects you can see')
    .action(async (opts: { team?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ projects: Row[] }>('/api/v1/projects', opts.team === undefined ? {} : { team: opts.team });
      out.table(r, r.projects, ['name', 'team', 'id', 'createdAt']);
    });
  projects
    .command('create')
    .argument('<name>')
    .requiredOption('--team <team>', 'owning team')
    .description('create a project (team administrators)')
    .action(async (name: string, opts: { team: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.post<Row>('/api/v1/projects', { name, team: opts.team }), ['name', 'team', 'id', 'createdAt']);
    });
  projects
    .command('get')
    .argument('<name>')
    .description('show a project')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.get<Row>(`/api/v1/projects/${seg(name)}`));
    });
  membersCommands(projects, 'projects', 'project');

  const users = program.command('users').description('users (platform administrators)');
  users
    .command('list')
    .description('all users and service accounts')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ principals: Row[] }>('/api/v1/principals');
      out.table(r, r.principals, ['name', 'kind', 'platformAdmin', 'id', 'createdAt']);
    });
  users
    .command('create')
    .argument('<name>')
    .option('--display-name <text>')
    .option('--platform-admin', 'make the user a platform administrator')
    .description('create a user; then issue a token with `strata tokens create NAME --for USER`')
    .action(async (name: string, opts: { displayName?: string; platformAdmin?: boolean }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.post<Row>('/api/v1/users', { name, ...(opts.displayName === undefined ? {} : { displayName: opts.displayName }), ...(opts.platformAdmin === true ? { platformAdmin: true } : {}) });
      out.record(r, ['name', 'kind', 'platformAdmin', 'id']);
    });
  program
    .command('service-accounts')
    .description('service accounts (platform administrators)')
    .command('create')
    .argument('<name>')
    .option('--display-name <text>')
    .description('create a service account')
    .action(async (name: string, opts: { displayName?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.post<Row>('/api/v1/service-accounts', { name, ...(opts.displayName === undefined ? {} : { displayName: opts.displayName }) });
      out.record(r, ['name', 'kind', 'id']);
    });

  const tokens = program.command('tokens').description('API tokens');
  tokens
    .command('list')
    .option('--for <principal>', "another principal's tokens (platform administrators)")
    .description('your tokens (never their secrets)')
    .action(async (opts: { for?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ tokens: Row[] }>('/api/v1/tokens', opts.for === undefined ? {} : { principal: opts.for });
      out.table(r, r.tokens, ['id', 'name', 'prefix', 'createdAt', 'expiresAt', 'revokedAt', 'lastUsedAt']);
    });
  tokens
    .command('create')
    .argument('<name>', 'a label for the token')
    .option('--for <principal>', 'issue it to another user or service account (platform administrators)')
    .option('--expires <duration>', 'lifetime, e.g. 30d, 12h (default: no expiry)')
    .description('issue a token; the secret is shown once')
    .action(async (name: string, opts: { for?: string; expires?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.post<Row>('/api/v1/tokens', { name, ...(opts.for === undefined ? {} : { principal: opts.for }), ...(opts.expires === undefined ? {} : { expiresInSeconds: parseDuration(opts.expires) }) });
      if (out.json) return out.record(r);
      out.line(`token ${String(r['id'])} created${typeof r['expiresAt'] === 'string' ? `, expires ${r['expiresAt']}` : ''}. Copy it now; it is not shown again:`);
      out.line(String(r['token']));
    });
  tokens
    .command('revoke')
    .argument('<id>', 'token id (tok_...)')
    .description('revoke a token at once')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.delete<Row>(`/api/v1/tokens/${seg(id)}`);
      out.record(r, ['id', 'name', 'revokedAt']);
    });
}
