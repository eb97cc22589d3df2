// Lguest.Devices: virtio console, block, net and rng devices built on Lguest.Core's public API.
[assembly: System.CLSCompliant(false)]
