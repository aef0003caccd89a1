//! `ferry`: runs the server (`ferry serve`) and manages a running one over its GraphQL API
//! (`ferry customers:list`, `ferry integrations:flows:test`, `ferry logs:list --tail`, …).
//!
//! Commands are named like the reference platform's CLI topics (`topic:verb`). Every list
//! command takes `--output table|json|yaml|csv`, `--columns`, `--filter`, `--sort` and
//! `--no-header`. Errors print as one line on stderr and exit with status 1.

mod client;
mod commands;
mod credentials;
mod output;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::client::Connection;

/// mimalloc instead of the C library's allocator: under load the server's many threads
/// (async workers, SQLite's connection threads, the JavaScript sandboxes) allocate and free
/// small values constantly, and glibc's malloc spent about 15 % of the server's samples in
/// its locks and consolidation (see `bench/RESULTS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ferry: an embedded integration platform in one binary.
#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Ferry: an embedded integration platform in one binary",
    long_about = None
)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: the GraphQL API, /healthz and /metrics.
    Serve(serve::ServeArgs),
    /// Store the server URL and an API token for later commands.
    Login(commands::me::LoginArgs),
    /// Forget the stored login.
    Logout,
    /// Show who you are logged in as.
    Me(commands::me::MeArgs),
    /// Print an API token: the logged-in user's, or the bootstrap owner's on the server's machine.
    #[command(name = "me:token")]
    MeToken,
    /// List customers.
    #[command(name = "customers:list")]
    CustomersList(commands::customers::ListArgs),
    /// Create a customer.
    #[command(name = "customers:create")]
    CustomersCreate(commands::customers::CreateArgs),
    /// Change a customer's name, description, external id or labels.
    #[command(name = "customers:update")]
    CustomersUpdate(commands::customers::UpdateArgs),
    /// Delete a customer, with its users and instances.
    #[command(name = "customers:delete")]
    CustomersDelete(commands::customers::DeleteArgs),
    /// List organization users and customer users.
    #[command(name = "users:list")]
    UsersList(commands::users::ListArgs),
    /// Create an organization user, or with --customer a customer user.
    #[command(name = "users:create")]
    UsersCreate(commands::users::CreateArgs),
    /// Delete a user.
    #[command(name = "users:delete")]
    UsersDelete(commands::users::DeleteArgs),
    /// List the roles you may give to users.
    #[command(name = "users:roles")]
    UsersRoles(commands::users::RolesArgs),
    /// Load a custom component's bundle, check its manifest and publish it as the next version.
    #[command(name = "components:publish")]
    ComponentsPublish(commands::components::PublishArgs),
    /// List components: the built-in ones, then the organization's custom ones.
    #[command(name = "components:list")]
    ComponentsList(commands::components::ListArgs),
    /// Run one action of a local bundle with given inputs and connection; print result and logs.
    #[command(name = "components:test")]
    ComponentsTest(commands::components::TestArgs),
    /// Check a YAML definition and import it as a new integration, or as an integration's draft.
    #[command(name = "integrations:import")]
    IntegrationsImport(commands::integrations::ImportArgs),
    /// Print an integration's definition (the draft, or a published version) as YAML.
    #[command(name = "integrations:export")]
    IntegrationsExport(commands::integrations::ExportArgs),
    /// Publish an integration's draft as its next version.
    #[command(name = "integrations:publish")]
    IntegrationsPublish(commands::integrations::PublishArgs),
    /// List integrations.
    #[command(name = "integrations:list")]
    IntegrationsList(commands::integrations::ListArgs),
    /// List an integration's published versions, newest first.
    #[command(name = "integrations:versions")]
    IntegrationsVersions(commands::integrations::VersionsArgs),
    /// List the flows of an integration's draft.
    #[command(name = "integrations:flows:list")]
    IntegrationsFlowsList(commands::integrations::FlowsArgs),
    /// Run a flow of an integration's draft on its test instance and follow the execution.
    #[command(name = "integrations:flows:test")]
    IntegrationsFlowsTest(commands::flow_test::TestArgs),
    /// Delete an integration, its versions and its test instance.
    #[command(name = "integrations:delete")]
    IntegrationsDelete(commands::integrations::DeleteArgs),
    /// Create an instance of an integration for a customer.
    #[command(name = "instances:create")]
    InstancesCreate(commands::instances::CreateArgs),
    /// List instances.
    #[command(name = "instances:list")]
    InstancesList(commands::instances::ListArgs),
    /// Deploy an instance (refused while config values are missing).
    #[command(name = "instances:deploy")]
    InstancesDeploy(commands::instances::InstanceArgs),
    /// Enable a paused instance.
    #[command(name = "instances:enable")]
    InstancesEnable(commands::instances::InstanceArgs),
    /// Pause an instance: its webhooks answer 409 and nothing runs.
    #[command(name = "instances:disable")]
    InstancesDisable(commands::instances::InstanceArgs),
    /// Delete an instance.
    #[command(name = "instances:delete")]
    InstancesDelete(commands::instances::InstanceArgs),
    /// List executions, newest first.
    #[command(name = "executions:list")]
    ExecutionsList(commands::executions::ListArgs),
    /// Show an execution: its status, timings, error, result and step results.
    #[command(name = "executions:show")]
    ExecutionsShow(commands::executions::ShowArgs),
    /// Cancel a queued or running execution.
    #[command(name = "executions:cancel")]
    ExecutionsCancel(commands::executions::CancelArgs),
    /// Run an execution again with its original payload, as a new execution linked to it.
    #[command(name = "executions:replay")]
    ExecutionsReplay(commands::executions::CancelArgs),
    /// List execution log lines, oldest first, or follow them with --tail.
    #[command(name = "logs:list")]
    LogsList(commands::logs::ListArgs),
    /// Print the GraphQL schema (SDL) this binary serves.
    Schema,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let conn = cli.connection;
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Login(args) => commands::me::login(&conn, args).await,
        Command::Logout => commands::me::logout(),
        Command::Me(args) => commands::me::me(&conn, args).await,
        Command::MeToken => commands::me::token(&conn),
        Command::CustomersList(args) => commands::customers::list(&conn, args).await,
        Command::CustomersCreate(args) => commands::customers::create(&conn, args).await,
        Command::CustomersUpdate(args) => commands::customers::update(&conn, args).await,
        Command::CustomersDelete(args) => commands::customers::delete(&conn, args).await,
        Command::UsersList(args) => commands::users::list(&conn, args).await,
        Command::UsersCreate(args) => commands::users::create(&conn, args).await,
        Command::UsersDelete(args) => commands::users::delete(&conn, args).await,
        Command::UsersRoles(args) => commands::users::roles(&conn, args).await,
        Command::ComponentsPublish(args) => commands::components::publish(&conn, args).await,
        Command::ComponentsList(args) => commands::components::list(&conn, args).await,
        Command::ComponentsTest(args) => commands::components::test(args).await,
        Command::IntegrationsImport(args) => commands::integrations::import(&conn, args).await,
        Command::IntegrationsExport(args) => commands::integrations::export(&conn, args).await,
        Command::IntegrationsPublish(args) => commands::integrations::publish(&conn, args).await,
        Command::IntegrationsList(args) => commands::integrations::list(&conn, args).await,
        Command::IntegrationsVersions(args) => commands::integrations::versions(&conn, args).await,
        Command::IntegrationsFlowsList(args) => commands::integrations::flows(&conn, args).await,
        Command::IntegrationsFlowsTest(args) => commands::flow_test::test(&conn, args).await,
        Command::IntegrationsDelete(args) => commands::integrations::delete(&conn, args).await,
        Command::InstancesCreate(args) => commands::instances::create(&conn, args).await,
        Command::InstancesList(args) => commands::instances::list(&conn, args).await,
        Command::InstancesDeploy(args) => commands::instances::deploy(&conn, args).await,
        Command::InstancesEnable(args) => commands::instances::set_enabled(&conn, args, true).await,
        Command::InstancesDisable(args) => {
            commands::instances::set_enabled(&conn, args, false).await
        }
        Command::InstancesDelete(args) => commands::instances::delete(&conn, args).await,
        Command::ExecutionsList(args) => commands::executions::list(&conn, args).await,
        Command::ExecutionsShow(args) => commands::executions::show(&conn, args).await,
        Command::ExecutionsCancel(args) => commands::executions::cancel(&conn, args).await,
        Command::ExecutionsReplay(args) => commands::executions::replay(&conn, args).await,
        Command::LogsList(args) => commands::logs::list(&conn, args).await,
        Command::Schema => {
            print!("{}", ferry_server::graphql::sdl());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
