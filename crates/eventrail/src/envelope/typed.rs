//! Envelopes: a domain event with its metadata, typed ([`Envelope`]) or
//! with its type erased for the bus ([`AnyEnvelope`]).

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use super::Metadata;

/// A domain event with its [`Metadata`]. See the [module docs](crate::envelope).
pub struct Envelope<E> {
    event: Arc<E>,
    meta: Metadata,
}

impl<E> Envelope<E> {
    /// Wraps `event` with `meta`.
    pub fn new(event: E, meta: Metadata) -> Self {
        Self {
            event: Arc::new(event),
            meta,
        }
    }

    /// Wraps an already shared event.
    pub fn from_arc(event: Arc<E>, meta: Metadata) -> Self {
        Self { event, meta }
    }

    /// The event.
    pub fn event(&self) -> &E {
        &self.event
    }

    /// The event, shared.
    pub fn event_arc(&self) -> &Arc<E> {
        &self.event
    }

    /// The metadata.
    pub fn meta(&self) -> &Metadata {
        &self.meta
    }

    /// The metadata, mutably (layers set the attempt number through it).
    pub fn meta_mut(&mut self) -> &mut Metadata {
        &mut self.meta
    }

    /// Splits the envelope into the shared event and its metadata.
    pub fn into_parts(self) -> (Arc<E>, Metadata) {
        (self.event, self.meta)
    }
}

impl<E> Clone for Envelope<E> {
    fn clone(&self) -> Self {
        Self {
            event: Arc::clone(&self.event),
            meta: self.meta.clone(),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Envelope<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("event", &self.event)
            .field("meta", &self.meta)
            .finish()
    }
}

impl<E> std::ops::Deref for Envelope<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.event
    }
}

/// An envelope whose event type was erased, as produced by an
/// [`EventFactory`](crate::factory::EventFactory) and dispatched by the
/// [`Bus`](crate::bus::Bus) on the event's type.
///
/// Erasing costs nothing: the event's `Arc` is reused.
pub struct AnyEnvelope {
    event: Arc<dyn Any + Send + Sync>,
    type_id: TypeId,
    type_name: &'static str,
    meta: Metadata,
}

impl AnyEnvelope {
    /// Erases the type of `env`.
    pub fn new<E: Send + Sync + 'static>(env: Envelope<E>) -> Self {
        let (event, meta) = env.into_parts();
        Self {
            event,
            type_id: TypeId::of::<E>(),
            type_name: std::any::type_name::<E>(),
            meta,
        }
    }

    /// Shorthand for `AnyEnvelope::new(Envelope::new(event, meta))`.
    pub fn of<E: Send + Sync + 'static>(event: E, meta: Metadata) -> Self {
        Self::new(Envelope::new(event, meta))
    }

    /// The `TypeId` of the event.
    pub fn event_type(&self) -> TypeId {
        self.type_id
    }

    /// The Rust type name of the event.
    pub fn event_type_name(&self) -> &'static str {
        self.type_name
    }

    /// The metadata.
    pub fn meta(&self) -> &Metadata {
        &self.meta
    }

    /// The metadata, mutably.
    pub fn meta_mut(&mut self) -> &mut Metadata {
        &mut self.meta
    }

    /// Whether the event is an `E`.
    pub fn is<E: 'static>(&self) -> bool {
        self.type_id == TypeId::of::<E>()
    }

    /// Recovers the typed envelope, or gives `self` back if the event is not an `E`.
    #[allow(clippy::result_large_err)] // gives `self` back, as `Box<dyn Any>::downcast` does
    pub fn downcast<E: Send + Sync + 'static>(self) -> Result<Envelope<E>, Self> {
        if !self.is::<E>() {
            return Err(self);
        }
        match self.event.downcast::<E>() {
            Ok(event) => Ok(Envelope::from_arc(event, self.meta)),
            // Unreachable: the TypeId was checked above. Kept total anyway.
            Err(event) => Err(Self { event, ..self }),
        }
    }

    /// The typed envelope, cloned (two reference-count increments).
    pub fn downcast_clone<E: Send + Sync + 'static>(&self) -> Option<Envelope<E>> {
        Arc::clone(&self.event)
            .downcast::<E>()
            .ok()
            .map(|event| Envelope::from_arc(event, self.meta.clone()))
    }

    /// A reference to the event if it is an `E`.
    pub fn event_ref<E: 'static>(&self) -> Option<&E> {
        self.event.downcast_ref::<E>()
    }
}

impl Clone for AnyEnvelope {
    fn clone(&self) -> Self {
        Self {
            event: Arc::clone(&self.event),
            type_id: self.type_id,
            type_name: self.type_name,
            meta: self.meta.clone(),
        }
    }
}

impl fmt::Debug for AnyEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyEnvelope")
            .field("event_type", &self.type_name)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl<E: Send + Sync + 'static> From<Envelope<E>> for AnyEnvelope {
    fn from(env: Envelope<E>) -> Self {
        AnyEnvelope::new(env)
    }
}
