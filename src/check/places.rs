//! What the kinds a failed link names need beyond the linker's words,
//! read by the runners for `findings` ([`Places`]): the source line of
//! each duplicate definition the linker gave none for (from the defining
//! object's DWARF), and where the definition the permissively linked
//! image kept is in the source (its lines, then what it calls: a
//! definition a macro wrote is where the project called the macro).
//!
//! It reads files; it must not decide findings.
use std::path::Path;

use super::findings::Places;
use crate::model::{CrateSize, FindingKind, RegionFill, RegionKind};

/// Objects read per failed link, at most.
const MAX_OBJECTS: usize = 64;

/// The places of the duplicate symbols the linker's `diagnostics` name:
/// definitions' lines from their objects, and the kept definition's
/// lines from `image` (the permissive link's bytes, when there is one).
pub(super) fn duplicates(diagnostics: &str, image: Option<&[u8]>) -> Places {
    let mut places = Places::default();
    let Ok(parsed) = crate::explain::explain(&mut diagnostics.as_bytes()) else {
        return places;
    };
    let mut read = 0;
    for f in parsed
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DuplicateSymbol)
    {
        let Some(symbol) = f.symbol.as_deref() else {
            continue;
        };
        for d in f.definitions.iter().filter(|d| d.file.is_none()) {
            let Some(object) = d.object.as_deref() else {
                continue;
            };
            if read >= MAX_OBJECTS {
                break;
            }
            read += 1;
            if let Some(site) = object_bytes(object).and_then(|data| {
                crate::inspect::definition_sites(&data, symbol)
                    .into_iter()
                    .next()
            }) {
                places
                    .definitions
                    .insert((symbol.to_owned(), object.to_owned()), site);
            }
        }
        if let Some(img) = image {
            let sites = crate::inspect::definition_sites(img, symbol);
            if !sites.is_empty() {
                places.sites.insert(symbol.to_owned(), sites);
            }
        }
    }
    places
}

/// The bytes of an object the linker named: a file, or `archive(member)`.
fn object_bytes(object: &str) -> Option<Vec<u8>> {
    if let Some((archive, member)) = object.strip_suffix(')').and_then(|o| o.split_once('('))
        && Path::new(archive).is_file()
    {
        let data = crate::inspect::read_file(Path::new(archive)).ok()?;
        let units = crate::inspect::units(archive, &data).ok()?;
        let suffix = format!("({member})");
        return units
            .into_iter()
            .find(|(name, _)| name.ends_with(&suffix))
            .map(|(_, bytes)| bytes.to_vec());
    }
    crate::inspect::read_file(Path::new(object)).ok()
}

/// Symbols listed per region fill.
const FILL_SYMBOLS: usize = 10;

/// The regions the linker's `diagnostics` say overflowed, with the bytes
/// each overflowed by (at most two: one relink each).
pub(super) fn overflowed(diagnostics: &str) -> Vec<(String, u64)> {
    let Ok(parsed) = crate::explain::explain(&mut diagnostics.as_bytes()) else {
        return Vec::new();
    };
    parsed
        .findings
        .iter()
        .filter_map(|f| f.region.as_ref())
        .map(|r| (r.name.clone(), r.overflow_bytes.unwrap_or(0)))
        .take(2)
        .collect()
}

/// Where a region's relink is written, under the cell's directory (the
/// region's name kept to safe characters).
pub(super) fn relink_dir(cell_dir: &Path, region: &str) -> std::path::PathBuf {
    let safe: String = region
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    cell_dir.join("relink").join(safe)
}

/// Region `name`'s length and what fills it, from its relink (`dir`, see
/// [`crate::relink`]) and the relinked `image`: its footprint with the
/// enlarged script's regions (`objects`: what the link's inputs say of
/// crates); crates by the region's kind of bytes, the
/// largest symbols of the sections placed in it.
pub(super) fn fill(
    places: &mut Places,
    name: &str,
    dir: &Path,
    image: &Path,
    objects: &crate::model::ObjectCrates,
) {
    let Some((length, regions)) = crate::relink::enlarged_in(dir) else {
        return;
    };
    places.lengths.insert(name.to_owned(), length);
    let Ok(data) = crate::inspect::read_file(image) else {
        return;
    };
    let Ok(size) = crate::inspect::footprint(&data, &regions, usize::MAX, objects) else {
        return;
    };
    let Some(region) = size.regions.iter().find(|r| r.name == name) else {
        return;
    };
    let ram = region.kind == RegionKind::Ram;
    let mut crates: Vec<CrateSize> = size
        .crates
        .iter()
        .map(|c| CrateSize {
            name: c.name.clone(),
            flash: if ram { 0 } else { c.flash },
            ram: if ram { c.ram } else { 0 },
        })
        .filter(|c| c.flash + c.ram > 0)
        .collect();
    crates.sort_by(|a, b| {
        (b.flash + b.ram)
            .cmp(&(a.flash + a.ram))
            .then(a.name.cmp(&b.name))
    });
    let inside: Vec<&str> = size
        .sections
        .iter()
        .filter(|s| s.region.as_deref() == Some(name) || s.load_region.as_deref() == Some(name))
        .map(|s| s.name.as_str())
        .collect();
    let symbols = size
        .symbols
        .iter()
        .filter(|x| inside.contains(&x.section.as_str()))
        .take(FILL_SYMBOLS)
        .cloned()
        .collect();
    places.fills.insert(
        name.to_owned(),
        RegionFill {
            used: region.used,
            crates,
            symbols,
        },
    );
}
