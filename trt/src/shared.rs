//! Shared ownership of an engine: [`SharedEngine`] and [`OwnedSession`], a session that keeps its engine alive
//! instead of borrowing it.
//!
//! [`Session<'engine>`](Session) borrows its [`Engine`], which is right for a scoped worker but cannot be stored next
//! to the engine in one struct. A service that owns its engine and sessions (and swaps engines at run time) uses
//! [`Engine::into_shared`] and [`SharedEngine::session`] instead: each [`OwnedSession`] holds an [`Arc`] of the engine,
//! is `'static`, and the engine is freed when the last session and handle are gone.
//!
//! # Soundness
//! An [`OwnedSession`] is a [`Session`] plus the `Arc<Engine>` it was created from. The session's internal engine
//! reference points into the `Arc`'s heap allocation, which never moves and lives as long as the `Arc` field:
//! * fields drop in declaration order, so the session (whose `Drop` synchronizes its stream before the execution
//!   context and buffers are freed) is dropped before the engine's last strong reference goes;
//! * the session is private and only reachable through methods whose results borrow the `OwnedSession`
//!   ([`OwnedSession::engine`] returns the `SharedEngine`, [`OwnedSession::session`] a `&Session` shortened to the
//!   borrow), so no reference to the engine can outlive the `Arc`. A `&mut Session` is never handed out: through it
//!   the session could be swapped for one with a different lifetime.
//!
//! `OwnedSession` is `Send` and not `Sync`, like [`Session`] (one thread at a time on an execution context).

use std::ops::Deref;
use std::sync::Arc;

use ndarray::ArrayViewMutD;

use crate::cuda::Stream;
use crate::dtype::Element;
use crate::error::Result;
use crate::runtime::Engine;
use crate::session::{Input, Outputs, PendingInference, Session, SessionConfig};

/// An [`Engine`] behind an [`Arc`]: cheap to clone, `Send + Sync`, and the factory of [`OwnedSession`]s. Derefs to
/// [`Engine`] for its IO descriptions (note that [`SharedEngine::session`] shadows [`Engine::session`]; a borrowing
/// [`Session`] is still available as `shared.as_engine().session(..)`).
#[derive(Debug, Clone)]
pub struct SharedEngine {
    engine: Arc<Engine>,
}

impl SharedEngine {
    /// Shares `engine`.
    pub fn new(engine: Engine) -> Self {
        SharedEngine {
            engine: Arc::new(engine),
        }
    }

    /// A session that owns a reference to the engine (see [`OwnedSession`]); otherwise the same as
    /// [`Engine::session`].
    pub fn session(&self, config: SessionConfig) -> Result<OwnedSession> {
        OwnedSession::new(Arc::clone(&self.engine), config)
    }

    /// The engine.
    pub fn as_engine(&self) -> &Engine {
        &self.engine
    }

    /// The `Arc` holding the engine.
    pub fn as_arc(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// How many `SharedEngine`s and [`OwnedSession`]s keep the engine alive (for diagnostics).
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.engine)
    }
}

impl Deref for SharedEngine {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.engine
    }
}

impl From<Engine> for SharedEngine {
    fn from(engine: Engine) -> Self {
        SharedEngine::new(engine)
    }
}

impl From<Arc<Engine>> for SharedEngine {
    fn from(engine: Arc<Engine>) -> Self {
        SharedEngine { engine }
    }
}

/// A [`Session`] that shares ownership of its engine: `'static`, `Send`, not `Sync`. Offers the same calls as
/// [`Session`]; create it with [`SharedEngine::session`] (after [`Engine::into_shared`]) or [`OwnedSession::new`].
/// The engine is freed when the last `OwnedSession` and [`SharedEngine`] holding it are dropped.
///
/// # Soundness
/// The session's internal engine reference points into the `Arc`'s heap allocation, which never moves and lives as
/// long as this value's `Arc`:
/// * fields drop in declaration order, so the session (whose `Drop` synchronizes its stream before the execution
///   context and buffers are freed) goes before this value's strong reference to the engine;
/// * the session is private and only reachable through methods whose results borrow the `OwnedSession`
///   ([`OwnedSession::engine`] returns the [`SharedEngine`], [`OwnedSession::session`] a `&Session` whose engine
///   lifetime is shortened to the borrow), so no reference to the engine can outlive the `Arc`. A `&mut Session` is
///   never handed out: through it the session could be swapped for one with a different lifetime.
#[derive(Debug)]
pub struct OwnedSession {
    // Declaration order is drop order: the session (context, stream, buffers) goes before the engine.
    session: Session<'static>,
    engine: SharedEngine,
}

impl OwnedSession {
    /// Creates a session on `engine` that keeps it alive.
    pub fn new(engine: Arc<Engine>, config: SessionConfig) -> Result<Self> {
        // SAFETY: the reference points into the Arc's heap allocation, which does not move and stays alive while
        // `Self::engine` holds the Arc. It is not really 'static: `session` is dropped before `engine` (field
        // order), and the session is only exposed through methods that tie every result to a borrow of `self`
        // (module docs), so the reference never outlives the Arc.
        let engine_ref: &'static Engine = unsafe { &*Arc::as_ptr(&engine) };
        let session = Session::new(engine_ref, config)?;
        Ok(OwnedSession {
            session,
            engine: SharedEngine { engine },
        })
    }

    /// The engine.
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// The inner session for read-only calls, with its engine lifetime shortened to this borrow.
    pub fn session(&self) -> &Session<'_> {
        &self.session
    }

    /// The session's stream.
    pub fn stream(&self) -> &Stream {
        self.session.stream()
    }

    /// See [`Session::phase_times`].
    pub fn phase_times(&self) -> Result<Option<crate::session::PhaseTimes>> {
        self.session().phase_times()
    }

    /// See [`Session::layer_times`].
    pub fn layer_times(&mut self) -> Result<Option<crate::LayerTimes>> {
        self.session.layer_times()
    }

    /// See [`Session::reset_layer_times`].
    pub fn reset_layer_times(&mut self) -> Result<()> {
        self.session.reset_layer_times()
    }

    /// See [`Session::graph_active`].
    pub fn graph_active(&self) -> bool {
        self.session.graph_active()
    }

    /// See [`Session::capacity_shape`].
    pub fn capacity_shape(&self, name: &str) -> Result<&[i64]> {
        self.session.capacity_shape(name)
    }

    /// See [`Session::shape`].
    pub fn shape(&self, name: &str) -> Result<&[i64]> {
        self.session.shape(name)
    }

    /// See [`Session::in_flight`].
    pub fn in_flight(&self) -> bool {
        self.session.in_flight()
    }

    /// See [`Session::infer`].
    pub fn infer(&mut self, inputs: &[Input<'_>]) -> Result<Outputs<'_>> {
        self.session.infer(inputs)
    }

    /// See [`Session::infer_async`]. The handle borrows this `OwnedSession`.
    pub fn infer_async(&mut self, inputs: &[Input<'_>]) -> Result<PendingInference<'_, 'static>> {
        self.session.infer_async(inputs)
    }

    /// See [`Session::outputs`].
    pub fn outputs(&mut self) -> Result<Outputs<'_>> {
        self.session.outputs()
    }

    /// See [`Session::set_input_shape`].
    pub fn set_input_shape(&mut self, name: &str, shape: &[usize]) -> Result<()> {
        self.session.set_input_shape(name, shape)
    }

    /// See [`Session::input_mut`].
    pub fn input_mut<T: Element>(&mut self, name: &str) -> Result<ArrayViewMutD<'_, T>> {
        self.session.input_mut(name)
    }

    /// See [`Session::infer_in_place`].
    pub fn infer_in_place(&mut self) -> Result<Outputs<'_>> {
        self.session.infer_in_place()
    }

    /// See [`Session::infer_async_in_place`].
    pub fn infer_async_in_place(&mut self) -> Result<PendingInference<'_, 'static>> {
        self.session.infer_async_in_place()
    }

    /// See [`Session::submit`].
    pub fn submit(&mut self, inputs: &[Input<'_>]) -> Result<()> {
        self.session.submit(inputs)
    }

    /// See [`Session::submit_in_place`].
    pub fn submit_in_place(&mut self) -> Result<()> {
        self.session.submit_in_place()
    }

    /// See [`Session::wait`].
    pub fn wait(&mut self) -> Result<Outputs<'_>> {
        self.session.wait()
    }
}
