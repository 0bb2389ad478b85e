//! Compiles the C++ accessors for the containers Gst-nvinfer passes by reference (cpp/access.cpp).

fn main() {
    println!("cargo:rerun-if-changed=cpp/access.cpp");
    println!("cargo:rerun-if-changed=cpp/nvds_layouts.h");
    cc::Build::new()
        .cpp(true)
        .std("c++14")
        .file("cpp/access.cpp")
        .warnings(true)
        .compile("nvds_yolo_access");
}
