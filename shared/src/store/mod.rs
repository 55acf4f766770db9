//! Store adapters behind [`crate::ports::Store`].

#[cfg(feature = "aws")]
pub mod dynamo;
pub mod memory;

#[cfg(feature = "aws")]
pub use dynamo::DynamoStore;
pub use memory::MemoryStore;
