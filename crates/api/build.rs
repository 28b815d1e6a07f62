//! Rebuilds this crate when the dashboard is built again: its pages are embedded in the binary
//! (`src/routes/dashboard.rs`), and cargo sees a change anywhere in the folder.
fn main() {
    println!("cargo:rerun-if-changed=../../dashboard/dist");
}
