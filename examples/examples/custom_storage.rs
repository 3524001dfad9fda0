//! A storage backend of one's own: an append-only file of length-prefixed postcard commits, plugged
//! into the storage worker and a runner, for a 1-of-1 group on the in-process network.
//!
//! Run it with `cargo run -p igra-examples --example custom_storage`. The node pays an event, is stopped,
//! and is started again from the file alone (`Node::restore` with the loaded records and a new boot
//! epoch): it still knows the event is confirmed. It exits non-zero otherwise.
//!
//! The contract a [`Store`] keeps (see `igra_adapters::storage`): `append` is atomic and durable when it
//! returns `Ok`, `load` returns exactly the appended records in order, and the boot counter only grows.

use std::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use igra_adapters::devnet::Cast;
use igra_adapters::devnet::chain::DevChain;
use igra_adapters::runner::local::LocalNet;
use igra_adapters::runner::{Clock, Driver, Runner, RunnerHandle, Smol, Wiring};
use igra_adapters::storage::{StorageWorker, Store, StoreError, WorkerLimits};
use igra_examples::{cast, check_paid_once, follow, tick};
use igra_proto::node::{BatchId, Node, Phase, Record};
use igra_proto::wire::{decode_exact, encode_into};
use igra_proto::{EventId, MemberIndex};

/// `records.log`: one frame per `append` (a 4-byte little-endian length, then the postcard encoding of
/// the commit's records), so that a commit is all or nothing. `boot`: the boot counter, 8 bytes.
struct FileStore {
    dir: PathBuf,
    log: File,
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { operation, path, source }
}

impl FileStore {
    fn open(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        let path = dir.join("records.log");
        let log =
            OpenOptions::new().create(true).append(true).open(&path).map_err(io_error("open", &path))?;
        Ok(Self { dir: dir.to_path_buf(), log })
    }
}

impl Store for FileStore {
    fn append(&mut self, batches: &[(BatchId, Vec<Record>)]) -> Result<(), StoreError> {
        let records: Vec<&Record> = batches.iter().flat_map(|(_, records)| records).collect();
        let mut body = Vec::new();
        encode_into(&records, &mut body).map_err(|e| StoreError::Encode { reason: e.to_string() })?;
        let length =
            u32::try_from(body.len()).map_err(|_| StoreError::Encode { reason: "too large".into() })?;
        let mut frame = length.to_le_bytes().to_vec();
        frame.extend(body);
        let path = self.dir.join("records.log");
        let before = self.log.metadata().map_err(io_error("stat", &path))?.len();
        // Written and synced, or cut back to where it was: a failed append leaves nothing behind.
        let written = self.log.write_all(&frame).and_then(|()| self.log.sync_data());
        if let Err(e) = written {
            let _ = self.log.set_len(before);
            return Err(io_error("append to", &path)(e));
        }
        Ok(())
    }

    fn load(&self) -> Result<Vec<Record>, StoreError> {
        let path = self.dir.join("records.log");
        let bytes = fs::read(&path).map_err(io_error("read", &path))?;
        let (mut records, mut rest) = (Vec::new(), bytes.as_slice());
        // A frame cut short by a crash was never acknowledged: it and what follows are ignored.
        while let Some((length, tail)) = rest.split_first_chunk::<4>() {
            let Some((body, tail)) = tail.split_at_checked(u32::from_le_bytes(*length) as usize) else {
                break;
            };
            let commit: Vec<Record> =
                decode_exact(body).map_err(|_| StoreError::Corrupt { sequence: records.len() as u64 })?;
            records.extend(commit);
            rest = tail;
        }
        Ok(records)
    }

    fn next_boot_epoch(&mut self) -> Result<u64, StoreError> {
        let (path, temporary) = (self.dir.join("boot"), self.dir.join("boot.new"));
        let previous = match fs::read(&path) {
            Ok(bytes) => {
                u64::from_le_bytes(bytes.try_into().map_err(|_| StoreError::CorruptMeta { key: "boot" })?)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_error("read", &path)(e)),
        };
        let next = previous.checked_add(1).ok_or(StoreError::CounterExhausted { counter: "boot" })?;
        // Write a new file, sync it, rename it over the old one and sync the directory: never torn.
        let mut file = File::create(&temporary).map_err(io_error("create", &temporary))?;
        file.write_all(&next.to_le_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_error("write", &temporary))?;
        fs::rename(&temporary, &path).map_err(io_error("rename", &path))?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io_error("sync", &self.dir))?;
        Ok(next)
    }
}

/// Starts the group's only member from the file store in `dir`; returns its handle, its updates and
/// the runner's task.
fn start(cast: &Cast, dir: &Path, chain: &Arc<DevChain>, clock: Clock) -> Result<Started, Box<dyn Error>> {
    let mut store = FileStore::open(dir)?;
    let (records, boot_epoch) = (store.load()?, store.next_boot_epoch()?);
    println!("boot epoch {boot_epoch}: {} records in the file", records.len());
    let node = Node::restore(
        cast.configs[0].clone(),
        Box::new(cast.signer(0)?),
        cast.node_seed(0),
        boot_epoch,
        clock.now(),
        clock.wall(),
        &records,
    )?;
    let (storage, durable) = StorageWorker::spawn(Box::new(store), WorkerLimits::default())?;
    // A 1-of-1 group has no peer: the in-process network stands in for a transport.
    let (net, mut inboxes) = LocalNet::new(1);
    let (chain_client, chain_in) = chain.client();
    let wiring = Wiring {
        frames_in: inboxes.remove(0),
        frames_out: Arc::new(net.link(MemberIndex(0))),
        storage: Arc::new(storage),
        durable,
        chain: Arc::new(chain_client),
        chain_in,
    };
    let (mut runner, handle) = Runner::new(Driver::new(node), wiring, clock);
    let updates = runner.observe();
    Ok((handle, updates, smol::spawn(runner.run::<Smol>())))
}

type Started = (
    RunnerHandle,
    async_channel::Receiver<(igra_proto::Instant, igra_proto::node::EventUpdate)>,
    smol::Task<Result<(), igra_adapters::runner::RunnerError>>,
);

async fn phase(runner: &RunnerHandle, id: EventId) -> Result<Option<Phase>, Box<dyn Error>> {
    Ok(runner.status(id).await?.map(|s| s.phase))
}

fn main() -> Result<(), Box<dyn Error>> {
    smol::block_on(async {
        let cast = cast(1, 1)?;
        let clock = Clock::new();
        let chain = DevChain::new(cast.script.clone(), &cast.pool, clock);
        let data = tempfile::tempdir()?;
        let _ticker = tick::<Smol>(&chain);

        let event = cast.event(0)?;
        let (runner, updates, task) = start(&cast, data.path(), &chain, clock)?;
        runner.submit(event.clone()).await?;
        follow::<Smol>(&updates, [event.id()].into(), Duration::from_secs(20)).await?;
        runner.shutdown().await;
        task.await?;

        // A new node from the file alone: it remembers the event, and resubmitting it pays nothing more.
        let (runner, _updates, task) = start(&cast, data.path(), &chain, clock)?;
        let remembered = phase(&runner, event.id()).await?;
        println!("after the restart the node reports the event as {remembered:?}");
        if !matches!(remembered, Some(Phase::Confirmed { .. })) {
            return Err("the restarted node forgot the event".into());
        }
        runner.submit(event).await?;
        smol::Timer::after(Duration::from_millis(500)).await;
        check_paid_once(&chain, 1)?;
        println!("paid exactly once");
        runner.shutdown().await;
        task.await?;
        Ok(())
    })
}
