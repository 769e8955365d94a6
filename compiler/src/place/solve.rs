//! The search: which environment each item runs in.
//!
//! Items joined by `near`, or by a dependency whose latency budget no link between
//! environments can meet, must share an environment: they are merged into blocks
//! first. Then a greedy pass (most constrained block first, cheapest environment that
//! fits) and a local search (move a block to a cheaper environment while every rule
//! holds) give a good placement fast, and a depth-first branch and bound, seeded with
//! it, improves it and proves it optimal when it finishes within its node budget.
//!
//! Deterministic: every order is by index, costs break ties by environment order.

use std::collections::BTreeSet;

use super::problem::{Problem, RuleId};

/// A placement: the environment of every item.
#[derive(Debug, Clone)]
pub struct Solution {
    pub env_of: Vec<usize>,
    pub objective: f64,
    /// The search finished: nothing better exists.
    pub optimal: bool,
    pub lower_bound: f64,
    pub nodes: u64,
}

#[derive(Debug)]
pub enum Outcome {
    Found(Solution),
    /// Proved: no placement meets the rules.
    Infeasible,
    /// The search ran out of nodes without finding a placement or proving there is none.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Nodes of the branch and bound.
    pub nodes: u64,
    /// Stop at the first placement that meets the rules.
    pub feasibility_only: bool,
}

const EPSILON: f64 = 1e-9;

struct Search<'p> {
    p: &'p Problem<'p>,
    disabled: &'p BTreeSet<RuleId>,
    blocks: Vec<Vec<usize>>,
    block_of: Vec<usize>,
    allowed: Vec<Vec<bool>>,
    cost: Vec<Vec<f64>>,
    cpu: Vec<Vec<u64>>,
    memory: Vec<Vec<u64>>,
    /// Per block: the edges with one end in it and the other in another block.
    edges_of: Vec<Vec<usize>>,
    /// Per block: (group, how many of the group's items it holds).
    groups_of: Vec<Vec<(usize, u32)>>,
    /// Per block: the environments it may use, cheapest first.
    env_order: Vec<Vec<usize>>,
    assign: Vec<Option<usize>>,
    cpu_used: Vec<u64>,
    memory_used: Vec<u64>,
    bandwidth_used: Vec<u64>,
    group_count: Vec<Vec<u32>>,
    nodes: u64,
}

impl<'p> Search<'p> {
    fn new(p: &'p Problem<'p>, disabled: &'p BTreeSet<RuleId>) -> Search<'p> {
        let n_env = p.envs.len();
        let on = |rule: RuleId| !disabled.contains(&rule);
        let (blocks, block_of) = blocks(p, disabled);
        let n_blocks = blocks.len();
        let mut allowed = vec![vec![true; n_env]; n_blocks];
        let mut cost = vec![vec![0.0; n_env]; n_blocks];
        let mut cpu = vec![vec![0u64; n_env]; n_blocks];
        let mut memory = vec![vec![0u64; n_env]; n_blocks];
        for (b, items) in blocks.iter().enumerate() {
            for &i in items {
                let item = &p.items[i];
                for e in 0..n_env {
                    if item.rejections[e].iter().any(|r| on(r.rule)) || item.size[e].is_none() {
                        allowed[b][e] = false;
                    }
                    cost[b][e] += item.objective(e);
                    if let Some(size) = item.size[e] {
                        cpu[b][e] += size.total_cpu();
                        memory[b][e] += size.total_memory();
                    }
                }
            }
        }
        let mut edges_of = vec![Vec::new(); n_blocks];
        for (i, edge) in p.edges.iter().enumerate() {
            let (a, b) = (block_of[edge.from], block_of[edge.to]);
            if a != b {
                edges_of[a].push(i);
                edges_of[b].push(i);
            }
        }
        let mut groups_of: Vec<Vec<(usize, u32)>> = vec![Vec::new(); n_blocks];
        for (g, group) in p.groups.iter().enumerate() {
            if !on(RuleId::Policy(group.policy)) {
                continue;
            }
            for &i in &group.items {
                let b = block_of[i];
                match groups_of[b].iter_mut().find(|(x, _)| *x == g) {
                    Some((_, count)) => *count += 1,
                    None => groups_of[b].push((g, 1)),
                }
            }
        }
        let env_order = (0..n_blocks)
            .map(|b| {
                let mut envs: Vec<usize> = (0..n_env).filter(|&e| allowed[b][e]).collect();
                envs.sort_by(|&x, &y| cost[b][x].total_cmp(&cost[b][y]).then(x.cmp(&y)));
                envs
            })
            .collect();
        Search {
            p,
            disabled,
            group_count: vec![vec![0; n_env]; p.groups.len()],
            blocks,
            block_of,
            allowed,
            cost,
            cpu,
            memory,
            edges_of,
            groups_of,
            env_order,
            assign: vec![None; n_blocks],
            cpu_used: vec![0; n_env],
            memory_used: vec![0; n_env],
            bandwidth_used: vec![0; p.links.len()],
            nodes: 0,
        }
    }

    fn on(&self, rule: RuleId) -> bool {
        !self.disabled.contains(&rule)
    }

    /// Whether block `b` may go to `e` with what is placed now.
    fn fits(&self, b: usize, e: usize) -> bool {
        if !self.allowed[b][e] {
            return false;
        }
        let env = &self.p.envs[e];
        if self.on(RuleId::Capacity(e)) {
            if env
                .cpu_cap
                .is_some_and(|c| self.cpu_used[e] + self.cpu[b][e] > c)
            {
                return false;
            }
            if env
                .memory_cap
                .is_some_and(|c| self.memory_used[e] + self.memory[b][e] > c)
            {
                return false;
            }
        }
        let mut extra: Vec<(usize, u64)> = Vec::new();
        for &i in &self.edges_of[b] {
            let edge = &self.p.edges[i];
            let other = if self.block_of[edge.from] == b {
                edge.to
            } else {
                edge.from
            };
            let Some(f) = self.assign[self.block_of[other]] else {
                continue;
            };
            if e == f {
                continue;
            }
            let Some(l) = self.p.link_of[e][f] else {
                if self.on(RuleId::Reach(i)) {
                    return false;
                }
                continue;
            };
            let link = &self.p.links[l];
            if self.on(RuleId::Latency(i))
                && let Some(budget) = edge.latency
                && link.latency.unwrap_or(0) > budget
            {
                return false;
            }
            if let (Some(need), Some(cap)) = (edge.bandwidth, link.bandwidth)
                && self.on(RuleId::Bandwidth(l))
            {
                let used = match extra.iter_mut().find(|(x, _)| *x == l) {
                    Some((_, u)) => {
                        *u += need;
                        *u
                    }
                    None => {
                        extra.push((l, need));
                        need
                    }
                };
                if self.bandwidth_used[l] + used > cap {
                    return false;
                }
            }
        }
        for &(g, count) in &self.groups_of[b] {
            let group = &self.p.groups[g];
            let domains = env.domains.get(&group.over).map_or(0, Vec::len);
            if domains < 2 && self.group_count[g][e] + count > 1 {
                return false;
            }
        }
        true
    }

    fn crossing(&self, b: usize, e: usize) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        for &i in &self.edges_of[b] {
            let edge = &self.p.edges[i];
            let other = if self.block_of[edge.from] == b {
                edge.to
            } else {
                edge.from
            };
            if let (Some(f), Some(need)) = (self.assign[self.block_of[other]], edge.bandwidth)
                && f != e
                && let Some(l) = self.p.link_of[e][f]
            {
                out.push((l, need));
            }
        }
        out
    }

    fn place(&mut self, b: usize, e: usize) {
        for (l, need) in self.crossing(b, e) {
            self.bandwidth_used[l] += need;
        }
        self.assign[b] = Some(e);
        self.cpu_used[e] += self.cpu[b][e];
        self.memory_used[e] += self.memory[b][e];
        for &(g, count) in &self.groups_of[b] {
            self.group_count[g][e] += count;
        }
    }

    fn unplace(&mut self, b: usize) {
        let Some(e) = self.assign[b] else {
            return;
        };
        self.assign[b] = None;
        for (l, need) in self.crossing(b, e) {
            self.bandwidth_used[l] -= need;
        }
        self.cpu_used[e] -= self.cpu[b][e];
        self.memory_used[e] -= self.memory[b][e];
        for &(g, count) in &self.groups_of[b] {
            self.group_count[g][e] -= count;
        }
    }

    fn objective(&self) -> f64 {
        self.assign
            .iter()
            .enumerate()
            .map(|(b, e)| e.map_or(0.0, |e| self.cost[b][e]))
            .sum()
    }

    /// Most constrained first: fewest environments, most relations, largest.
    fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.blocks.len()).collect();
        let degree = |b: usize| self.edges_of[b].len() + self.groups_of[b].len();
        let size = |b: usize| self.cpu[b].iter().copied().max().unwrap_or(0);
        order.sort_by(|&a, &b| {
            self.env_order[a]
                .len()
                .cmp(&self.env_order[b].len())
                .then(degree(b).cmp(&degree(a)))
                .then(size(b).cmp(&size(a)))
                .then(a.cmp(&b))
        });
        order
    }

    fn greedy(&mut self, order: &[usize]) -> bool {
        for &b in order {
            let choice = self.env_order[b].iter().copied().find(|&e| self.fits(b, e));
            match choice {
                Some(e) => self.place(b, e),
                None => return false,
            }
        }
        true
    }

    /// Moves blocks to cheaper environments while the rules hold, until none moves.
    fn improve(&mut self, order: &[usize]) {
        for _ in 0..64 {
            let mut moved = false;
            for &b in order {
                let Some(current) = self.assign[b] else {
                    continue;
                };
                let here = self.cost[b][current];
                let candidates: Vec<usize> = self.env_order[b]
                    .iter()
                    .copied()
                    .take_while(|&e| self.cost[b][e] < here - EPSILON)
                    .collect();
                if candidates.is_empty() {
                    continue;
                }
                self.unplace(b);
                match candidates.into_iter().find(|&e| self.fits(b, e)) {
                    Some(e) => {
                        self.place(b, e);
                        moved = true;
                    }
                    None => self.place(b, current),
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn snapshot(&self) -> Vec<usize> {
        self.assign.iter().map(|e| e.unwrap_or(0)).collect()
    }

    fn restore(&mut self, assignment: &[usize]) {
        for b in 0..self.blocks.len() {
            self.unplace(b);
        }
        for (b, &e) in assignment.iter().enumerate() {
            self.place(b, e);
        }
    }
}

/// Items that must share an environment: joined by `near`, or by a dependency whose
/// latency budget no link of the landscape meets (or that no link could carry). The
/// blocks, and the block of each item.
pub fn blocks(p: &Problem, disabled: &BTreeSet<RuleId>) -> (Vec<Vec<usize>>, Vec<usize>) {
    let on = |rule: RuleId| !disabled.contains(&rule);
    let n_env = p.envs.len();
    // Blocks: union-find over `near` and over dependencies that cannot cross.
    let mut parent: Vec<usize> = (0..p.items.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let join = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (root(parent, a), root(parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    };
    for (i, near) in p.nears.iter().enumerate() {
        if on(RuleId::Near(i)) {
            join(&mut parent, near.item, near.target);
        }
    }
    for (i, edge) in p.edges.iter().enumerate() {
        // Co-location these rules force: no link can carry the dependency.
        let can_cross = n_env > 1
            && (!on(RuleId::Reach(i))
                || p.links.iter().any(|l| {
                    !on(RuleId::Latency(i))
                        || edge.latency.is_none_or(|b| l.latency.unwrap_or(0) <= b)
                }));
        if !can_cross {
            join(&mut parent, edge.from, edge.to);
        }
    }
    let mut block_index = vec![usize::MAX; p.items.len()];
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut block_of = vec![0; p.items.len()];
    for (i, block) in block_of.iter_mut().enumerate() {
        let r = root(&mut parent, i);
        if block_index[r] == usize::MAX {
            block_index[r] = blocks.len();
            blocks.push(Vec::new());
        }
        *block = block_index[r];
        blocks[block_index[r]].push(i);
    }
    (blocks, block_of)
}

struct BranchAndBound {
    order: Vec<usize>,
    /// `suffix[k]`: the least the blocks from `order[k]` on can cost.
    suffix: Vec<f64>,
    best: f64,
    best_assignment: Option<Vec<usize>>,
    limit: u64,
    aborted: bool,
    feasibility_only: bool,
}

impl BranchAndBound {
    fn run(&mut self, s: &mut Search, k: usize, cost: f64) {
        if self.aborted || (self.feasibility_only && self.best_assignment.is_some()) {
            return;
        }
        if s.nodes >= self.limit {
            self.aborted = true;
            return;
        }
        s.nodes += 1;
        if k == self.order.len() {
            if cost < self.best - EPSILON || self.best_assignment.is_none() {
                self.best = cost;
                self.best_assignment = Some(s.snapshot());
            }
            return;
        }
        let b = self.order[k];
        for i in 0..s.env_order[b].len() {
            let e = s.env_order[b][i];
            let next = cost + s.cost[b][e];
            if self.best_assignment.is_some() && next + self.suffix[k + 1] >= self.best - EPSILON {
                break;
            }
            if !s.fits(b, e) {
                continue;
            }
            s.place(b, e);
            self.run(s, k + 1, next);
            s.unplace(b);
            if self.aborted || (self.feasibility_only && self.best_assignment.is_some()) {
                return;
            }
        }
    }
}

/// Places every item of `p` with the rules in `disabled` switched off.
pub fn solve(p: &Problem, disabled: &BTreeSet<RuleId>, limits: Limits) -> Outcome {
    let mut s = Search::new(p, disabled);
    if s.env_order.iter().any(Vec::is_empty) {
        return Outcome::Infeasible;
    }
    let order = s.order();
    let mut incumbent: Option<(Vec<usize>, f64)> = None;
    if s.greedy(&order) {
        if !limits.feasibility_only {
            s.improve(&order);
        }
        incumbent = Some((s.snapshot(), s.objective()));
        if limits.feasibility_only {
            return Outcome::Found(finish(
                &s,
                incumbent.map(|i| i.0).unwrap_or_default(),
                false,
                0.0,
            ));
        }
    }
    for b in 0..s.blocks.len() {
        s.unplace(b);
    }
    let mut suffix = vec![0.0; order.len() + 1];
    for k in (0..order.len()).rev() {
        let b = order[k];
        let least = s.env_order[b].first().map_or(0.0, |&e| s.cost[b][e]);
        suffix[k] = suffix[k + 1] + least;
    }
    let lower_bound = suffix[0];
    let mut bnb = BranchAndBound {
        order: order.clone(),
        suffix,
        best: incumbent.as_ref().map_or(f64::INFINITY, |i| i.1),
        best_assignment: incumbent.as_ref().map(|i| i.0.clone()),
        limit: limits.nodes,
        aborted: false,
        feasibility_only: limits.feasibility_only,
    };
    bnb.run(&mut s, 0, 0.0);
    match bnb.best_assignment {
        None if bnb.aborted => Outcome::Unknown,
        None => Outcome::Infeasible,
        Some(best) => {
            s.restore(&best);
            let optimal = !bnb.aborted;
            if !optimal {
                s.improve(&order);
            }
            let assignment = s.snapshot();
            let objective = s.objective();
            let mut solution = finish(
                &s,
                assignment,
                optimal,
                if optimal { objective } else { lower_bound },
            );
            solution.objective = objective;
            Outcome::Found(solution)
        }
    }
}

fn finish(s: &Search, assignment: Vec<usize>, optimal: bool, lower_bound: f64) -> Solution {
    let env_of = (0..s.p.items.len())
        .map(|i| assignment.get(s.block_of[i]).copied().unwrap_or(0))
        .collect();
    Solution {
        env_of,
        objective: assignment
            .iter()
            .enumerate()
            .map(|(b, &e)| s.cost[b][e])
            .sum(),
        optimal,
        lower_bound,
        nodes: s.nodes,
    }
}

/// Whether `env_of` meets every rule not in `disabled`: the check of a placement,
/// item by item, with no search (and what tests compare the search against).
pub fn violations(p: &Problem, disabled: &BTreeSet<RuleId>, env_of: &[usize]) -> Vec<RuleId> {
    let on = |rule: RuleId| !disabled.contains(&rule);
    let mut out = BTreeSet::new();
    for (i, item) in p.items.iter().enumerate() {
        let e = env_of[i];
        if item.size[e].is_none() {
            out.insert(RuleId::Resolution);
        }
        for r in &item.rejections[e] {
            if on(r.rule) {
                out.insert(r.rule);
            }
        }
    }
    for (i, near) in p.nears.iter().enumerate() {
        if on(RuleId::Near(i)) && env_of[near.item] != env_of[near.target] {
            out.insert(RuleId::Near(i));
        }
    }
    let mut bandwidth = vec![0u64; p.links.len()];
    for (i, edge) in p.edges.iter().enumerate() {
        let (e, f) = (env_of[edge.from], env_of[edge.to]);
        if e == f {
            continue;
        }
        match p.link_of[e][f] {
            None => {
                if on(RuleId::Reach(i)) {
                    out.insert(RuleId::Reach(i));
                }
            }
            Some(l) => {
                if on(RuleId::Latency(i))
                    && edge
                        .latency
                        .is_some_and(|b| p.links[l].latency.unwrap_or(0) > b)
                {
                    out.insert(RuleId::Latency(i));
                }
                bandwidth[l] += edge.bandwidth.unwrap_or(0);
            }
        }
    }
    for (l, link) in p.links.iter().enumerate() {
        if on(RuleId::Bandwidth(l)) && link.bandwidth.is_some_and(|b| bandwidth[l] > b) {
            out.insert(RuleId::Bandwidth(l));
        }
    }
    for (e, env) in p.envs.iter().enumerate() {
        if !on(RuleId::Capacity(e)) {
            continue;
        }
        let (mut cpu, mut memory) = (0, 0);
        for (i, item) in p.items.iter().enumerate() {
            if env_of[i] == e
                && let Some(size) = item.size[e]
            {
                cpu += size.total_cpu();
                memory += size.total_memory();
            }
        }
        if env.cpu_cap.is_some_and(|c| cpu > c) || env.memory_cap.is_some_and(|c| memory > c) {
            out.insert(RuleId::Capacity(e));
        }
    }
    for group in &p.groups {
        if !on(RuleId::Policy(group.policy)) {
            continue;
        }
        for (e, env) in p.envs.iter().enumerate() {
            let count = group.items.iter().filter(|&&i| env_of[i] == e).count();
            if count > 1 && env.domains.get(&group.over).map_or(0, Vec::len) < 2 {
                out.insert(RuleId::Policy(group.policy));
            }
        }
    }
    out.into_iter().collect()
}

/// The objective of a placement: cost plus unmet preferences.
pub fn objective(p: &Problem, env_of: &[usize]) -> f64 {
    p.items
        .iter()
        .zip(env_of)
        .map(|(item, &e)| item.objective(e))
        .sum()
}
