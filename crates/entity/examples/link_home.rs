//! Runs `miaopi link` on a state directory without the command-line crate, printing the
//! report as JSON: the benchmark's entry point (`bench/link/run`).
//!
//! usage: link_home HOME [--with-index [--rebuild]]

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(home) = args.get(1) else {
        eprintln!("usage: link_home HOME [--with-index [--rebuild]]");
        std::process::exit(2);
    };
    let with_index = args.iter().any(|a| a == "--with-index");
    let pack_dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian"));
    let pack = miaopi_catalog::Pack::load(pack_dir).map_err(|e| format!("{e:?}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        let home = Path::new(home);
        let lake = miaopi_lake::Lake::open(&home.join("lake"))?;
        miaopi_entity::link_home(
            &pack,
            home,
            &lake,
            &miaopi_entity::LinkOptions {
                skip_index: !with_index,
                rebuild_index: args.iter().any(|a| a == "--rebuild"),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
