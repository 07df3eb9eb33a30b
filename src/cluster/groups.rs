//! Resource group operations as script jobs (behaviour spec §2.7): one group operation at a
//! time, resources started left to right (each probed with `status` first) and stopped
//! right to left, stop failures retried then escalated to a reboot. Operations are grouped
//! into activities (req_our_resources, mach_down, standby, shutdown, ...) that run strictly
//! one after another, like heartbeat's resource children and request queue (§4.4).

use std::collections::VecDeque;

use super::notice::Notice;
use super::{Action, Cluster};
use crate::config::{NodeName, ResourceGroup};
use crate::time::{Duration, Instant};

/// `HA_STOPRETRYMAX`: extra stop attempts, 1 s apart.
pub const STOP_RETRIES: u32 = 10;
const STOP_RETRY_DELAY: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobOp {
    Start,
    Stop,
    Status,
}

impl JobOp {
    pub fn name(self) -> &'static str {
        match self {
            JobOp::Start => "start",
            JobOp::Stop => "stop",
            JobOp::Status => "status",
        }
    }
}

/// One resource script invocation: `resource.d/SCRIPT ARGS... OP`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub group: usize,
    pub resource: usize,
    pub op: JobOp,
    pub script: String,
    pub args: Vec<String>,
}

/// One resource group, as far as this node knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupState {
    Stopped,
    /// Working on resource `step`; `probing` while its `status` runs.
    Starting {
        step: usize,
        probing: bool,
        job: JobId,
    },
    Running,
    /// Stopping resource `step` (counting down); `attempt` failed stops so far.
    Stopping {
        step: usize,
        attempt: u32,
        job: Option<JobId>,
        retry_at: Option<Instant>,
        checking: bool,
        after_failure: bool,
    },
    /// A start failed and the group was released; waiting to be handed over.
    Failed,
}

impl GroupState {
    /// Running or on its way up or down: the group may hold addresses here.
    pub fn is_active(&self) -> bool {
        !matches!(self, GroupState::Stopped | GroupState::Failed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GroupOp {
    Take,
    Give,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ActKind {
    /// req_our_resources (nice_failback or legacy with nobody active).
    ReqOur,
    MachDown(NodeName),
    StandbyGive(super::Hold),
    StandbyTake(super::Hold),
    Shutdown,
    /// Ours: releasing a set after a split brain.
    Heal,
    /// Legacy: release a group the peer asked for, then answer it.
    LegacyGive {
        key: String,
        to: NodeName,
    },
    LegacyTake,
    /// Ours: hand-over or re-try after a start failure.
    Retake,
}

#[derive(Clone, Debug)]
pub(super) struct Activity {
    pub kind: ActKind,
    pub ops: VecDeque<(usize, GroupOp)>,
    pub started: bool,
}

pub(super) struct Groups {
    pub defs: Vec<ResourceGroup>,
    pub states: Vec<GroupState>,
    pub current: Option<Activity>,
    pub queue: VecDeque<Activity>,
    /// The group operation in progress.
    pub op: Option<(usize, GroupOp)>,
    pub next_job: u64,
    /// A start failed since the last hand-over attempt.
    pub failed_since: Option<Instant>,
    pub reboot_requested: bool,
}

impl Groups {
    pub fn new(defs: Vec<ResourceGroup>) -> Groups {
        let n = defs.len();
        Groups {
            defs,
            states: vec![GroupState::Stopped; n],
            current: None,
            queue: VecDeque::new(),
            op: None,
            next_job: 1,
            failed_since: None,
            reboot_requested: false,
        }
    }

    pub fn idle(&self) -> bool {
        self.current.is_none() && self.queue.is_empty() && self.op.is_none()
    }

    /// `op` on `g` is queued or in progress.
    fn pending(&self, g: usize, op: GroupOp) -> bool {
        self.op == Some((g, op))
            || self
                .current
                .iter()
                .chain(self.queue.iter())
                .any(|a| a.ops.contains(&(g, op)))
    }

    /// A take of `g` is queued or in progress.
    pub fn take_pending(&self, g: usize) -> bool {
        self.pending(g, GroupOp::Take)
    }

    /// A release of `g` is queued or in progress.
    pub fn give_pending(&self, g: usize) -> bool {
        self.pending(g, GroupOp::Give)
    }

    /// `g` is stopped here or on its way down, and nothing will start it again.
    pub fn ends_stopped(&self, g: usize) -> bool {
        !self.take_pending(g) && (!self.states[g].is_active() || self.give_pending(g))
    }

    /// Drops queued (not yet started) takes of `g`.
    pub fn cancel_takes(&mut self, g: usize) {
        for a in self.current.iter_mut().chain(self.queue.iter_mut()) {
            a.ops.retain(|op| *op != (g, GroupOp::Take));
        }
    }

    pub fn describe(&self, g: usize) -> String {
        let d = &self.defs[g];
        let mut s = d.node.to_string();
        for r in &d.resources {
            s.push(' ');
            s.push_str(&r.token);
        }
        s
    }

    pub fn stop_retry_deadline(&self) -> Option<Instant> {
        self.states
            .iter()
            .filter_map(|s| match s {
                GroupState::Stopping {
                    retry_at: Some(t), ..
                } => Some(*t),
                _ => None,
            })
            .min()
    }
}

impl Cluster {
    pub(super) fn enqueue(&mut self, kind: ActKind, ops: Vec<(usize, GroupOp)>) {
        self.rm.groups.queue.push_back(Activity {
            kind,
            ops: ops.into(),
            started: false,
        });
    }

    fn new_job(&mut self, g: usize, r: usize, op: JobOp) -> JobId {
        let id = JobId(self.rm.groups.next_job);
        self.rm.groups.next_job += 1;
        let res = &self.rm.groups.defs[g].resources[r];
        self.actions.push_back(Action::Run(Job {
            id,
            group: g,
            resource: r,
            op,
            script: res.script.clone(),
            args: res.args.clone(),
        }));
        id
    }

    /// Advances activities until one waits for a job (or nothing is left).
    pub(super) fn pump(&mut self) {
        loop {
            if self.rm.groups.reboot_requested || self.rm.groups.op.is_some() {
                return;
            }
            if self.rm.groups.current.is_none() {
                match self.rm.groups.queue.pop_front() {
                    Some(a) => self.rm.groups.current = Some(a),
                    None => {
                        self.on_idle();
                        if self.rm.groups.current.is_none() && self.rm.groups.queue.is_empty() {
                            return;
                        }
                        continue;
                    }
                }
            }
            let Some(mut act) = self.rm.groups.current.take() else {
                return;
            };
            if !act.started {
                act.started = true;
                self.activity_started(&act);
            }
            match act.ops.pop_front() {
                Some((g, op)) => {
                    self.rm.groups.current = Some(act);
                    self.begin_op(g, op);
                }
                None => {
                    self.activity_done(act.kind);
                    self.drain_loopback();
                }
            }
        }
    }

    fn begin_op(&mut self, g: usize, op: GroupOp) {
        match op {
            GroupOp::Take => {
                if self.rm.groups.states[g] == GroupState::Running {
                    return;
                }
                let d = self.rm.groups.describe(g);
                self.notice(Notice::AcquiringGroup(d));
                let job = self.new_job(g, 0, JobOp::Status);
                self.rm.groups.states[g] = GroupState::Starting {
                    step: 0,
                    probing: true,
                    job,
                };
            }
            GroupOp::Give => {
                let d = self.rm.groups.describe(g);
                self.notice(Notice::ReleasingGroup(d));
                let last = self.rm.groups.defs[g].resources.len().saturating_sub(1);
                self.stop_step(g, last, false);
            }
        }
        self.rm.groups.op = Some((g, op));
    }

    fn stop_step(&mut self, g: usize, step: usize, after_failure: bool) {
        let job = self.new_job(g, step, JobOp::Stop);
        self.rm.groups.states[g] = GroupState::Stopping {
            step,
            attempt: 0,
            job: Some(job),
            retry_at: None,
            checking: false,
            after_failure,
        };
    }

    fn op_finished(&mut self, g: usize) {
        if self.rm.groups.op.map(|(x, _)| x) == Some(g) {
            self.rm.groups.op = None;
        }
    }

    pub(super) fn on_job_finished(&mut self, job: super::JobId, ok: bool) {
        let Some(g) = self.rm.groups.states.iter().position(|s| match s {
            GroupState::Starting { job: j, .. } => *j == job,
            GroupState::Stopping { job: Some(j), .. } => *j == job,
            _ => false,
        }) else {
            return;
        };
        let n = self.rm.groups.defs[g].resources.len();
        match self.rm.groups.states[g].clone() {
            GroupState::Starting { step, probing, .. } => {
                if probing && !ok {
                    let job = self.new_job(g, step, JobOp::Start);
                    self.rm.groups.states[g] = GroupState::Starting {
                        step,
                        probing: false,
                        job,
                    };
                } else if probing || ok {
                    if step + 1 >= n {
                        self.rm.groups.states[g] = GroupState::Running;
                        self.op_finished(g);
                    } else {
                        let job = self.new_job(g, step + 1, JobOp::Status);
                        self.rm.groups.states[g] = GroupState::Starting {
                            step: step + 1,
                            probing: true,
                            job,
                        };
                    }
                } else {
                    // Start failure: release the whole group, right to left (§2.7).
                    let tok = self.rm.groups.defs[g].resources[step].token.clone();
                    self.notice(Notice::GivingUpDueToFailure(tok));
                    self.stop_step(g, n.saturating_sub(1), true);
                    self.rm.groups.failed_since.get_or_insert(self.now);
                }
            }
            GroupState::Stopping {
                step,
                attempt,
                checking,
                after_failure,
                ..
            } => {
                if checking {
                    if ok {
                        self.notice(Notice::StopFailureReboot);
                        self.notice(Notice::KillingUngracefully);
                        self.actions.push_back(Action::Reboot);
                        self.rm.groups.reboot_requested = true;
                        self.rm.groups.states[g] = GroupState::Stopping {
                            step,
                            attempt,
                            job: None,
                            retry_at: None,
                            checking: false,
                            after_failure,
                        };
                        return;
                    }
                    let tok = self.rm.groups.defs[g].resources[step].token.clone();
                    self.notice(Notice::NotLsb(tok.clone()));
                    self.notice(Notice::MustSucceedStop(tok));
                    self.notice(Notice::RebootAvoided);
                    self.stop_next(g, step, after_failure);
                } else if ok {
                    self.stop_next(g, step, after_failure);
                } else if attempt < STOP_RETRIES {
                    self.rm.groups.states[g] = GroupState::Stopping {
                        step,
                        attempt: attempt + 1,
                        job: None,
                        retry_at: Some(self.now + STOP_RETRY_DELAY),
                        checking: false,
                        after_failure,
                    };
                } else {
                    let job = self.new_job(g, step, JobOp::Status);
                    self.rm.groups.states[g] = GroupState::Stopping {
                        step,
                        attempt,
                        job: Some(job),
                        retry_at: None,
                        checking: true,
                        after_failure,
                    };
                }
            }
            _ => {}
        }
    }

    fn stop_next(&mut self, g: usize, step: usize, after_failure: bool) {
        if step == 0 {
            self.rm.groups.states[g] = if after_failure {
                GroupState::Failed
            } else {
                GroupState::Stopped
            };
            self.op_finished(g);
        } else {
            self.stop_step(g, step - 1, after_failure);
        }
    }

    pub(super) fn stop_retries(&mut self) {
        let now = self.now;
        for g in 0..self.rm.groups.states.len() {
            if let GroupState::Stopping {
                step,
                attempt,
                retry_at: Some(t),
                after_failure,
                ..
            } = self.rm.groups.states[g].clone()
                && t <= now
            {
                let tok = self.rm.groups.defs[g].resources[step].token.clone();
                self.notice(Notice::RetryingStop(tok));
                let job = self.new_job(g, step, JobOp::Stop);
                self.rm.groups.states[g] = GroupState::Stopping {
                    step,
                    attempt,
                    job: Some(job),
                    retry_at: None,
                    checking: false,
                    after_failure,
                };
            }
        }
    }
}
