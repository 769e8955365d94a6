//! The dependency graph of a resolved system, with petgraph behind a small API so no
//! other crate handles `NodeIndex`.

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::Span;
use crate::system::InstanceId;

/// One `requires` edge: from the consumer to its dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub span: Span,
    /// Whether the dependency must be healthy first; only these edges order a deploy.
    pub ordering: bool,
}

/// Node `i` is instance `i`: the graph is built with nodes in instance order.
#[derive(Debug, Clone, Default)]
pub struct DependencyGraph {
    graph: DiGraph<InstanceId, Edge>,
}

/// A cycle of ordering edges: `instances[i]` requires `instances[i + 1]` (wrapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub instances: Vec<InstanceId>,
    /// `edges[i]` is the requirement from `instances[i]` to the next one.
    pub edges: Vec<Edge>,
}

impl DependencyGraph {
    pub fn new(instances: usize) -> Self {
        let mut graph = DiGraph::with_capacity(instances, instances * 3);
        for i in 0..instances {
            graph.add_node(InstanceId(i as u32));
        }
        DependencyGraph { graph }
    }

    pub fn add_dependency(&mut self, consumer: InstanceId, dependency: InstanceId, edge: Edge) {
        self.graph.add_edge(node(consumer), node(dependency), edge);
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// What `id` requires, in declaration order.
    pub fn dependencies_of(&self, id: InstanceId) -> Vec<(InstanceId, Edge)> {
        let mut out: Vec<_> = self
            .graph
            .edges_directed(node(id), Direction::Outgoing)
            .map(|e| {
                (
                    InstanceId(petgraph::visit::EdgeRef::target(&e).index() as u32),
                    *e.weight(),
                )
            })
            .collect();
        out.reverse(); // petgraph lists the newest edge first
        out
    }

    /// What requires `id`.
    pub fn dependents_of(&self, id: InstanceId) -> Vec<(InstanceId, Edge)> {
        let mut out: Vec<_> = self
            .graph
            .edges_directed(node(id), Direction::Incoming)
            .map(|e| {
                (
                    InstanceId(petgraph::visit::EdgeRef::source(&e).index() as u32),
                    *e.weight(),
                )
            })
            .collect();
        out.sort_by_key(|(i, _)| *i);
        out
    }

    /// Every cycle of ordering edges, one per strongly connected component, each as a
    /// path through the component. Sorted so the output is deterministic.
    pub fn cycles(&self) -> Vec<Cycle> {
        let ordering = self
            .graph
            .filter_map(|_, n| Some(*n), |_, e| e.ordering.then_some(*e));
        let mut cycles = Vec::new();
        for component in petgraph::algo::tarjan_scc(&ordering) {
            let self_loop =
                component.len() == 1 && ordering.find_edge(component[0], component[0]).is_some();
            if component.len() < 2 && !self_loop {
                continue;
            }
            let members: std::collections::HashSet<NodeIndex> = component.iter().copied().collect();
            let start = *component.iter().min().expect("a component is never empty");
            // The shortest way from `start` back to itself, by breadth-first search
            // inside the component: it always exists in a strongly connected component.
            let mut parent: std::collections::HashMap<NodeIndex, (NodeIndex, Edge)> =
                std::collections::HashMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut closing = None;
            'search: while let Some(current) = queue.pop_front() {
                let mut next: Vec<_> = ordering
                    .edges_directed(current, Direction::Outgoing)
                    .map(|e| (petgraph::visit::EdgeRef::target(&e), *e.weight()))
                    .filter(|(n, _)| members.contains(n))
                    .collect();
                next.sort_by_key(|(n, _)| *n);
                for (target, edge) in next {
                    if target == start {
                        closing = Some((current, edge));
                        break 'search;
                    }
                    if target != start && !parent.contains_key(&target) {
                        parent.insert(target, (current, edge));
                        queue.push_back(target);
                    }
                }
            }
            let Some((last, closing_edge)) = closing else {
                continue;
            };
            let mut path = vec![last];
            let mut edges = vec![closing_edge];
            let mut current = last;
            while current != start {
                let (previous, edge) = parent[&current];
                path.push(previous);
                edges.push(edge);
                current = previous;
            }
            path.reverse();
            edges.reverse();
            // `edges` now runs start -> ... -> last -> start.
            cycles.push(Cycle {
                instances: path
                    .iter()
                    .map(|n| *ordering.node_weight(*n).expect("nodes carry ids"))
                    .collect(),
                edges,
            });
        }
        cycles.sort_by(|a, b| a.instances.cmp(&b.instances));
        cycles
    }

    /// Deploy waves: wave 0 requires nothing; each later wave only what earlier waves
    /// hold. Only ordering edges count. `None` if ordering edges form a cycle.
    pub fn waves(&self) -> Option<Vec<Vec<InstanceId>>> {
        let order = petgraph::algo::toposort(
            &self
                .graph
                .filter_map(|_, n| Some(*n), |_, e| e.ordering.then_some(*e)),
            None,
        )
        .ok()?;
        let mut wave_of = vec![0usize; self.graph.node_count()];
        // Dependencies come after their consumers in topological order: walk backwards.
        for n in order.iter().rev() {
            let wave = self
                .graph
                .edges_directed(*n, Direction::Outgoing)
                .filter(|e| e.weight().ordering)
                .map(|e| wave_of[petgraph::visit::EdgeRef::target(&e).index()] + 1)
                .max()
                .unwrap_or(0);
            wave_of[n.index()] = wave;
        }
        let count = wave_of.iter().max().map_or(0, |w| w + 1);
        let mut waves = vec![Vec::new(); count];
        for (i, wave) in wave_of.iter().enumerate() {
            waves[*wave].push(InstanceId(i as u32));
        }
        Some(waves)
    }

    /// Deploy waves of a graph that spans several systems (the environments of one
    /// run): `nodes` items, and `edges` as (what comes first, what waits for it). The
    /// wave of each item, or `Err` with an item on a cycle. Kept here so that only
    /// this type ever holds a petgraph index.
    pub fn levels(nodes: usize, edges: &[(usize, usize)]) -> Result<Vec<usize>, usize> {
        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(nodes, edges.len());
        for _ in 0..nodes {
            graph.add_node(());
        }
        for (first, then) in edges {
            graph.add_edge(NodeIndex::new(*first), NodeIndex::new(*then), ());
        }
        let order =
            petgraph::algo::toposort(&graph, None).map_err(|cycle| cycle.node_id().index())?;
        let mut level = vec![0usize; nodes];
        for node in order {
            level[node.index()] = graph
                .neighbors_directed(node, Direction::Incoming)
                .map(|n| level[n.index()] + 1)
                .max()
                .unwrap_or(0);
        }
        Ok(level)
    }

    /// Everything that transitively requires `id` (it stops or degrades if `id` fails),
    /// with the distance from `id`, nearest first, then by id.
    pub fn impact(&self, id: InstanceId) -> Vec<(InstanceId, usize)> {
        self.reach(id, Direction::Incoming)
    }

    /// Everything `id` transitively requires, nearest first.
    pub fn requirements(&self, id: InstanceId) -> Vec<(InstanceId, usize)> {
        self.reach(id, Direction::Outgoing)
    }

    fn reach(&self, id: InstanceId, direction: Direction) -> Vec<(InstanceId, usize)> {
        let mut distance = vec![usize::MAX; self.graph.node_count()];
        let mut queue = std::collections::VecDeque::from([node(id)]);
        distance[id.index()] = 0;
        let mut out = Vec::new();
        while let Some(n) = queue.pop_front() {
            for neighbour in self.graph.neighbors_directed(n, direction) {
                if distance[neighbour.index()] == usize::MAX {
                    distance[neighbour.index()] = distance[n.index()] + 1;
                    out.push((
                        InstanceId(neighbour.index() as u32),
                        distance[neighbour.index()],
                    ));
                    queue.push_back(neighbour);
                }
            }
        }
        out.sort_by_key(|(i, d)| (*d, *i));
        out
    }

    /// The chains of requirements from a root (something nothing requires) down to
    /// `id`: why `id` is part of the system. At most `limit` chains, shortest first.
    pub fn why(&self, id: InstanceId, limit: usize) -> Vec<Vec<InstanceId>> {
        let mut chains = Vec::new();
        let mut stack = vec![vec![node(id)]];
        while let Some(path) = stack.pop() {
            let last = *path.last().expect("paths start non-empty");
            let mut consumers: Vec<NodeIndex> = self
                .graph
                .neighbors_directed(last, Direction::Incoming)
                .collect();
            consumers.sort();
            consumers.dedup();
            if consumers.is_empty() {
                chains.push(
                    path.iter()
                        .rev()
                        .map(|n| InstanceId(n.index() as u32))
                        .collect::<Vec<_>>(),
                );
                continue;
            }
            for consumer in consumers.into_iter().rev() {
                if !path.contains(&consumer) && chains.len() + stack.len() < limit * 8 {
                    let mut longer = path.clone();
                    longer.push(consumer);
                    stack.push(longer);
                }
            }
        }
        chains.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        chains.truncate(limit);
        chains
    }
}

fn node(id: InstanceId) -> NodeIndex {
    NodeIndex::new(id.index())
}
