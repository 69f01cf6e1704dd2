fn main() {
    println!("wismo");
}
