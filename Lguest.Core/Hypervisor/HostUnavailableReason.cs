namespace Lguest.Hypervisor;

/// <summary>Why this host cannot run guests on a backend (<see cref="HostUnavailableException.Reason"/>).</summary>
public enum HostUnavailableReason
{
    /// <summary>The device node does not exist (ENOENT): no kvm module, a VM without nested virtualization, no /dev/lguest.</summary>
    DeviceMissing,

    /// <summary>The device exists but this process may not open it (EACCES, EPERM): not in the kvm group, not root.</summary>
    PermissionDenied,

    /// <summary>The device node has no driver behind it (ENXIO, ENODEV): no hardware virtualization, the module unloaded.</summary>
    NoDriver,

    /// <summary>The device opened but cannot run the launcher's guests: another API version, a capability missing.</summary>
    Unsupported,

    /// <summary>Opening failed for another reason; <see cref="HostUnavailableException.Errno"/> says which.</summary>
    OpenFailed,
}
