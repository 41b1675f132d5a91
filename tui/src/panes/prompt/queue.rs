//! The approval prompt's queue: pending requests, oldest first, each with the state of the
//! decision this dashboard is sending for it.
//!
//! Rules it keeps:
//! - A request is in the queue at most once (by id); a later copy replaces the data but keeps
//!   the sending state.
//! - Oldest first (`created_ms`, then id), so the request the agent has waited longest for is
//!   the one on screen.
//! - A request known to be decided never comes back: a pending list fetched before the decision
//!   and answered after it is filtered through [`Decided`].

use std::collections::{HashSet, VecDeque};

use crate::panes::approvals::model::Approval;

use super::choice::Choice;

/// Where this dashboard's decision for a request stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Sending {
    /// Nothing sent.
    Idle,
    /// Sent, no answer yet.
    Sending(Choice),
    /// The server refused it (not a conflict): why, shown on the prompt; the request stays.
    Failed(String),
}

/// One queued request.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub approval: Approval,
    pub sending: Sending,
}

/// The pending requests.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    entries: Vec<Entry>,
}

impl Queue {
    /// Adds `approval` (a pending one), or refreshes its data when it is queued already.
    pub fn add(&mut self, approval: Approval) {
        if !approval.is_pending() {
            return;
        }
        match self.entries.iter_mut().find(|e| e.approval.id == approval.id) {
            Some(entry) => entry.approval = approval,
            None => {
                self.entries.push(Entry { approval, sending: Sending::Idle });
                self.sort();
            }
        }
    }

    /// Takes `id` out of the queue.
    pub fn remove(&mut self, id: &str) -> Option<Entry> {
        let at = self.entries.iter().position(|e| e.approval.id == id)?;
        Some(self.entries.remove(at))
    }

    /// The queue becomes `pending` (a fresh list from the server), keeping the sending state
    /// of the requests still there.
    pub fn replace(&mut self, pending: Vec<Approval>) {
        let mut old = std::mem::take(&mut self.entries);
        for approval in pending.into_iter().filter(Approval::is_pending) {
            if self.entries.iter().any(|e| e.approval.id == approval.id) {
                continue;
            }
            let sending = old
                .iter()
                .position(|e| e.approval.id == approval.id)
                .map_or(Sending::Idle, |at| old.swap_remove(at).sending);
            self.entries.push(Entry { approval, sending });
        }
        self.sort();
    }

    fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| (a.approval.created_ms, &a.approval.id).cmp(&(b.approval.created_ms, &b.approval.id)));
    }

    /// The request on screen.
    pub fn head(&self) -> Option<&Entry> {
        self.entries.first()
    }

    pub fn head_mut(&mut self) -> Option<&mut Entry> {
        self.entries.first_mut()
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.approval.id == id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The ids in order.
    pub fn ids(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.approval.id.as_str()).collect()
    }
}

/// How many decided ids are remembered: far more than can be pending at once.
const REMEMBERED: usize = 512;

/// The ids of requests seen decided lately.
#[derive(Debug, Clone, Default)]
pub struct Decided {
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Decided {
    pub fn insert(&mut self, id: &str) {
        if !self.ids.insert(id.to_string()) {
            return;
        }
        self.order.push_back(id.to_string());
        if self.order.len() > REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}
