//! `scale-out`: 1, 2, 3 … `ferry serve` processes sharing one PostgreSQL database (and one
//! master key), the webhook load spread over all of them, executions/s for each node count.
//! Nodes are added one at a time; each step runs on a fresh instance.

use serde::Serialize;

use super::webhook::{self, AsyncRow, Step};
use super::Session;
use crate::server::{Node, NodeSpec};

/// One node count.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    pub nodes: usize,
    #[serde(flatten)]
    pub row: AsyncRow,
}

/// Runs a step at each node count (ascending), starting nodes as needed; each row is kept
/// as soon as it is measured.
pub async fn run(
    session: &mut Session,
    spec: &NodeSpec,
    http: &reqwest::Client,
    counts: &[usize],
    step: &Step,
    rows: &mut Vec<ScaleRow>,
) -> anyhow::Result<()> {
    let mut counts = counts.to_vec();
    counts.sort_unstable();
    counts.dedup();
    for nodes in counts.into_iter().filter(|n| *n > 0) {
        while session.nodes.len() < nodes {
            session.nodes.push(Node::start(spec, http).await?);
        }
        eprintln!("scale-out: {nodes} node(s), {} clients", step.clients);
        let row = webhook::run_async(session, step).await?;
        rows.push(ScaleRow { nodes, row });
    }
    Ok(())
}
