//! Store adapters behind [`crate::ports::Store`].

pub mod dynamo;
pub mod memory;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;
