namespace Lguest.Devices;

/// <summary>What one connection still has to tell the guest, each a packet on the receive queue.</summary>
[Flags]
internal enum VsockOwed
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>A RST: the connection is over.</summary>
    Reset = 1,

    /// <summary>A RESPONSE: the host end of a guest-initiated connection is ready.</summary>
    Response = 2,

    /// <summary>A REQUEST: the host wants a connection to a guest port.</summary>
    Request = 4,

    /// <summary>A SHUTDOWN with both flags: the host end closed.</summary>
    Shutdown = 8,

    /// <summary>Host data may be waiting: read it (RW), or learn it ended (SHUTDOWN SEND).</summary>
    ReadWrite = 16,

    /// <summary>A CREDIT_UPDATE: the guest's idea of our free buffer space is out of date.</summary>
    CreditUpdate = 32,
}
