//! `Detector::detect_pipelined` against mock backends that log every call: the order of
//! submissions, waits and results, errors per frame, early stops, and the one-slot default path.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use yolo_rt::backend::check_run_args;
use yolo_rt::tensor::TensorData;
use yolo_rt::{
    Backend, Detector, DetectorOptions, Error, Image, InputBuffer, InputInfo, InputRef, InputType,
    OutputInfo, PixelFormat, Result, TensorView,
};

const SIZE: usize = 64;
const ANCHORS: usize = 8;

/// Frame `id`: a uniform grey `20 + 10 * id`, which survives the letterbox exactly, so the mock
/// can tell which frame an input buffer holds.
fn frame(id: usize) -> Image {
    let g = (20 + 10 * id) as u8;
    Image::filled(SIZE, SIZE, PixelFormat::Rgb, [g, g, g])
}

fn frame_id(input: &InputBuffer) -> usize {
    let v = match input.as_ref() {
        InputRef::F32(d) => d[0],
        InputRef::F16(d) => d[0].to_f32(),
    };
    ((v * 255.0).round() as usize - 20) / 10
}

#[derive(Default)]
struct Shared {
    log: Vec<String>,
    /// Frame submitted on each slot and not yet waited for.
    busy: Vec<Option<usize>>,
}

/// A YOLOv9-style backend ([1, 4 + 2, 8] output) whose single box is centred at x = 10 + frame id
/// (class `id % 2`), so results can be matched to frames.
struct Mock {
    slots: usize,
    input: InputInfo,
    outputs: Vec<OutputInfo>,
    shape: Vec<usize>,
    data: Vec<f32>,
    shared: Arc<Mutex<Shared>>,
    fail_submit: Option<usize>,
    fail_wait: Option<usize>,
}

impl Mock {
    fn new(slots: usize) -> (Self, Arc<Mutex<Shared>>) {
        let shared = Arc::new(Mutex::new(Shared {
            log: Vec::new(),
            busy: vec![None; slots],
        }));
        let mock = Mock {
            slots,
            input: InputInfo {
                name: "images".into(),
                max_batch: 1,
                height: SIZE,
                width: SIZE,
                dtype: InputType::F32,
            },
            outputs: vec![OutputInfo {
                name: "output0".into(),
                shape: vec![1, 6, ANCHORS],
            }],
            shape: vec![1, 6, ANCHORS],
            data: vec![0.0; 6 * ANCHORS],
            shared: shared.clone(),
            fail_submit: None,
            fail_wait: None,
        };
        (mock, shared)
    }

    fn log(&self, s: String) {
        self.shared.lock().unwrap().log.push(s);
    }

    fn outputs_for(&mut self, id: usize) -> Result<Vec<TensorView<'_>>> {
        if self.fail_wait == Some(id) {
            return Err(Error::Config(format!(
                "mock: frame {id} failed on the device"
            )));
        }
        self.data.fill(0.0);
        let a = ANCHORS;
        // Anchor 0: box (10 + id, 32) 8x8, class id % 2 with score 0.9.
        self.data[0] = 10.0 + id as f32;
        self.data[a] = 32.0;
        self.data[2 * a] = 8.0;
        self.data[3 * a] = 8.0;
        self.data[(4 + id % 2) * a] = 0.9;
        Ok(vec![TensorView::new(
            &self.outputs[0].name,
            &self.shape,
            TensorData::F32(&self.data),
        )?])
    }
}

impl Backend for Mock {
    fn name(&self) -> String {
        format!("mock ({} slots)", self.slots)
    }
    fn input(&self) -> &InputInfo {
        &self.input
    }
    fn outputs(&self) -> &[OutputInfo] {
        &self.outputs
    }
    fn run(&mut self, input: &InputBuffer, batch: usize) -> Result<Vec<TensorView<'_>>> {
        check_run_args(&self.input, input, batch)?;
        let id = frame_id(input);
        self.log(format!("run {id}"));
        self.outputs_for(id)
    }
    fn slots(&self) -> usize {
        self.slots
    }
    fn submit_slot(&mut self, slot: usize, input: &InputBuffer, batch: usize) -> Result<()> {
        check_run_args(&self.input, input, batch)?;
        let id = frame_id(input);
        self.log(format!("submit {id} slot {slot}"));
        if self.fail_submit == Some(id) {
            return Err(Error::Config(format!("mock: cannot enqueue frame {id}")));
        }
        let mut sh = self.shared.lock().unwrap();
        assert!(sh.busy[slot].is_none(), "slot {slot} submitted twice");
        sh.busy[slot] = Some(id);
        Ok(())
    }
    fn wait_slot(
        &mut self,
        slot: usize,
        input: &InputBuffer,
        batch: usize,
    ) -> Result<Vec<TensorView<'_>>> {
        check_run_args(&self.input, input, batch)?;
        let id = {
            let mut sh = self.shared.lock().unwrap();
            let id = sh.busy[slot]
                .take()
                .expect("wait on a slot with nothing in flight");
            // The caller kept the input buffer unchanged since submit.
            assert_eq!(frame_id(input), id, "input buffer changed while in flight");
            sh.log.push(format!("wait {id} slot {slot}"));
            id
        };
        self.outputs_for(id)
    }
}

fn detector(mock: impl Backend + 'static) -> Detector {
    Detector::new(Box::new(mock), DetectorOptions::default()).unwrap()
}

/// The mock with only the required methods: `slots`, `submit_slot` and `wait_slot` are the
/// trait's defaults.
struct Plain(Mock);

impl Backend for Plain {
    fn name(&self) -> String {
        "plain mock".into()
    }
    fn input(&self) -> &InputInfo {
        self.0.input()
    }
    fn outputs(&self) -> &[OutputInfo] {
        self.0.outputs()
    }
    fn run(&mut self, input: &InputBuffer, batch: usize) -> Result<Vec<TensorView<'_>>> {
        self.0.run(input, batch)
    }
}

fn centre_x(r: &Result<Vec<yolo_rt::Detection>>) -> usize {
    let d = r.as_ref().unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    ((d[0].bbox[0] + d[0].bbox[2]) / 2.0).round() as usize
}

/// With two slots, frame N+1 is submitted before frame N is waited for (and so before N's
/// outputs are decoded and handed to the sink); results come out in frame order.
#[test]
fn two_slots_submit_next_frame_before_waiting_for_the_current_one() {
    let (mock, shared) = Mock::new(2);
    let mut det = detector(mock);
    let n = 6;
    let mut results = Vec::new();
    det.detect_pipelined((0..n).map(frame), |r| {
        shared.lock().unwrap().log.push(format!("sink {}", r.index));
        assert_eq!(centre_x(&r.detections), 10 + r.index, "frame {}", r.index);
        assert_eq!(
            r.detections.as_ref().unwrap()[0].class_id as usize,
            r.index % 2
        );
        results.push(r.index);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(results, (0..n).collect::<Vec<_>>());
    let sh = shared.lock().unwrap();
    let pos = |e: &str| {
        sh.log
            .iter()
            .position(|l| l.starts_with(e))
            .unwrap_or_else(|| panic!("`{e}` missing from {:?}", sh.log))
    };
    for i in 0..n {
        assert!(pos(&format!("submit {i} ")) < pos(&format!("wait {i} ")));
        assert!(pos(&format!("wait {i} ")) < pos(&format!("sink {i}")));
        if i + 1 < n {
            assert!(
                pos(&format!("submit {} ", i + 1)) < pos(&format!("wait {i} ")),
                "frame {} not submitted before frame {i} was waited for: {:?}",
                i + 1,
                sh.log
            );
        }
        if i + 2 < n {
            // Never more than two in flight: N+2 goes in after N is out.
            assert!(pos(&format!("submit {} ", i + 2)) > pos(&format!("wait {i} ")));
        }
    }
    // Consecutive frames alternate between the two slots.
    assert!(
        sh.log.contains(&"submit 0 slot 0".to_string()),
        "{:?}",
        sh.log
    );
    assert!(
        sh.log.contains(&"submit 1 slot 1".to_string()),
        "{:?}",
        sh.log
    );
    assert!(sh.busy.iter().all(Option::is_none));
}

/// A bad frame, a failed submission and a failed wait each surface in that frame's own result;
/// the other frames are unaffected and nothing stays in flight.
#[test]
fn errors_surface_with_their_frame_index() {
    let (mut mock, shared) = Mock::new(2);
    mock.fail_submit = Some(3);
    mock.fail_wait = Some(5);
    let mut det = detector(mock);
    let frames: Vec<Image> = (0..8)
        .map(|i| {
            if i == 1 {
                Image::from_raw(vec![], 0, 5, PixelFormat::Bgr).unwrap()
            } else {
                frame(i)
            }
        })
        .collect();
    let mut seen = Vec::new();
    det.detect_pipelined(frames, |r| {
        match r.index {
            1 => assert!(
                matches!(r.detections, Err(Error::EmptyImage { .. })),
                "{:?}",
                r.detections
            ),
            3 => {
                let e = r.detections.as_ref().unwrap_err().to_string();
                assert!(e.contains("cannot enqueue frame 3"), "{e}");
            }
            5 => {
                let e = r.detections.as_ref().unwrap_err().to_string();
                assert!(e.contains("frame 5 failed"), "{e}");
            }
            i => assert_eq!(centre_x(&r.detections), 10 + i),
        }
        seen.push(r.index);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, (0..8).collect::<Vec<_>>());
    let sh = shared.lock().unwrap();
    assert!(sh.busy.iter().all(Option::is_none), "{:?}", sh.log);
    // The empty frame never reached the backend.
    assert!(!sh.log.iter().any(|l| l.starts_with("submit 1 ")));
}

/// The sink stops the stream: no deadlock, batches in flight are waited for (none left
/// submitted), and the detector keeps working afterwards.
#[test]
fn early_stop_drains_the_slots_and_the_detector_stays_usable() {
    let (mock, shared) = Mock::new(2);
    let mut det = detector(mock);
    let mut got = Vec::new();
    det.detect_pipelined((0..20).map(frame), |r| {
        got.push(r.index);
        if r.index == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(got, [0, 1, 2]);
    {
        let sh = shared.lock().unwrap();
        assert!(sh.busy.iter().all(Option::is_none), "{:?}", sh.log);
        let submits = sh.log.iter().filter(|l| l.starts_with("submit")).count();
        let waits = sh.log.iter().filter(|l| l.starts_with("wait")).count();
        assert_eq!(submits, waits, "{:?}", sh.log);
        assert!(submits <= 5, "ran far past the stop: {:?}", sh.log);
    }
    // Stopping at the very first frame, and an empty stream.
    det.detect_pipelined((0..20).map(frame), |_| ControlFlow::Break(()))
        .unwrap();
    det.detect_pipelined(std::iter::empty::<Image>(), |_| ControlFlow::Continue(()))
        .unwrap();
    let mut again = Vec::new();
    det.detect_pipelined((0..3).map(frame), |r| {
        again.push(centre_x(&r.detections));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(again, [10, 11, 12]);
    assert!(shared.lock().unwrap().busy.iter().all(Option::is_none));
}

/// A one-slot backend with the trait's default `submit_slot`/`wait_slot` runs each frame at its
/// wait, in order, with the right results; slots it does not have are errors.
#[test]
fn one_slot_default_runs_in_order() {
    let (mock, shared) = Mock::new(1);
    let mut det = detector(Plain(mock));
    assert_eq!(det.backend().slots(), 1);
    let mut got = Vec::new();
    det.detect_pipelined((0..4).map(frame), |r| {
        shared.lock().unwrap().log.push(format!("sink {}", r.index));
        got.push(centre_x(&r.detections));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(got, [10, 11, 12, 13]);
    let log = shared.lock().unwrap().log.clone();
    assert_eq!(
        log,
        ["run 0", "sink 0", "run 1", "sink 1", "run 2", "sink 2", "run 3", "sink 3"]
    );
    let (mock, _) = Mock::new(1);
    let mut mock = Plain(mock);
    let buf = mock.alloc_input().unwrap();
    assert!(mock.submit_slot(0, &buf, 1).is_ok());
    let e = mock.submit_slot(0, &buf, 2).unwrap_err().to_string();
    assert!(e.contains("batch 2"), "{e}");
    let e = mock.submit_slot(1, &buf, 1).unwrap_err().to_string();
    assert!(e.contains("slot 1 does not exist"), "{e}");
    assert!(mock.wait_slot(2, &buf, 1).is_err());
}
