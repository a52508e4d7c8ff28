// What a TypeScript integrator's code names in the types openapi-typescript generates from the
// two documents (command.ts and query.ts beside this file in the run's work directory).
// deploy/contract/run compiles it with `tsc --noEmit --strict`: it fails when the generated
// types do not compile (two operations sharing an operationId are a duplicate identifier),
// when an operation the API promises is missing, or when the shapes below change.
import type * as command from "./command";
import type * as query from "./query";

// Each operation by the operationId the API promises; a missing one is named by tsc.
type Has<T, K extends keyof T> = K;
export type CommandOperations = Has<
    command.operations,
    | "register_tenant" | "login" | "accept_invitation"
    | "create_site" | "update_site" | "delete_site" | "suspend_site" | "resume_site" | "retry_site"
    | "register_node" | "bootstrap_node" | "drain_node" | "decommission_node"
    | "issue_token" | "revoke_token" | "change_member_role" | "remove_member"
    | "invite_member" | "revoke_invitation"
    | "healthz" | "readyz" | "metrics" | "openapi"
>;
export type QueryOperations = Has<
    query.operations,
    | "list_sites" | "get_site" | "list_nodes" | "get_node" | "get_tenant" | "list_members"
    | "list_tokens" | "list_invitations" | "list_audit_entries" | "stream_events" | "list_timers"
    | "healthz" | "readyz" | "metrics" | "openapi"
>;

// One problem shape, named Problem, in both documents.
type Problem = command.components["schemas"]["Problem"];
export const busy: Problem = {
    type: "https://berth.dev/problems/site-busy",
    title: "The site is busy",
    status: 409,
    detail: "another change is under way",
    field: null,
};
export const sameProblem: query.components["schemas"]["Problem"] = busy;

// Registration, a command's answer, and a page of sites.
type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
export type RegisterBody = Json<command.operations["register_tenant"]["requestBody"]>;
export const registration: RegisterBody = { name: "Acme", email: "me@acme.test", password: "a long password" };
export type Registered = Json<command.operations["register_tenant"]["responses"][201]>;
export const token = (answer: Registered): string => answer.token + answer.tenant_id + answer.user_id;
export type Accepted = Json<command.operations["create_site"]["responses"][202]>;
export const version = (answer: Accepted): number => answer.version;
export type SitesPage = Json<query.operations["list_sites"]["responses"][200]>;
export const nextCursor = (page: SitesPage): string | null | undefined => page.next_cursor;
