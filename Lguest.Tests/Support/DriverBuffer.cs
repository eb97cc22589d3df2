using Lguest.Memory;

namespace Lguest.Tests.Support;

/// <summary>A buffer a test driver puts in a descriptor chain.</summary>
internal readonly record struct DriverBuffer(GuestAddress Address, uint Length, bool Writable);
