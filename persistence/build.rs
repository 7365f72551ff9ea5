// Embedded migrations are read at compile time: rebuild when a migration is added or edited.
fn main() {
    println!("cargo:rerun-if-changed=../migrations/postgres");
    println!("cargo:rerun-if-changed=../migrations/sqlite");
}
