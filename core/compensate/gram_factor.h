#pragma once

#include <ATen/core/Tensor.h>
#include <string>

// P C P^T through a Cholesky factor of C (internal, CPU with LAPACK).
namespace rs::compensate {

// How a congruence P K P^T was formed, for diagnostics.
struct CongruenceRoute {
    bool cholesky = false; // C = L L^T, P C P^T = (P L)(P L)^T
    std::string note;      // why not, or what was dropped ("" when nothing to say)
};

// X X^T (rows) or X^T X (columns) of a float32 or float64 matrix X, full and symmetric, in X's
// type: one syrk on the CPU with LAPACK (half the flops of a general product), symmetricProduct
// otherwise.
at::Tensor gramOfRows(const at::Tensor& x);
at::Tensor gramOfColumns(const at::Tensor& x);

// tr(W C W^T) = sum(C o W^T W) for a symmetric C [n, n], with the products in W's dtype and the
// sum in float64. W^T W is formed block by block (its lower blocks only) and each block of C is
// converted to W's dtype on its own, so nothing n x n is allocated: for down_proj of an 8B model
// (n = 14336) the whole W^T W and a float32 C would be 822 MB each.
double congruenceTrace(const at::Tensor& w, const at::Tensor& c);

// Whether the Cholesky route is worth trying: potrf costs d_in^3 / 3 (float64), the triangular
// product m d_in^2 and the rank-k update m^2 d_in, against 2 m d_in^2 + m^2 d_in for the two
// general products; it wins while d_in stays below about 1.5 m.
bool choleskyRouteWorthIt(int64_t rows, int64_t inputs);

// (P L)(P L)^T with C = L L^T (float64 potrf), the two products in float32 when `single`. Columns
// where C has an all-zero row and column (dead channels) are dropped first, which changes nothing
// in P C P^T. Returns an undefined tensor, with the reason in route->note, when C is not
// numerically positive definite on the remaining columns (fewer tokens than inputs); the caller
// then forms the products directly. A completed Cholesky factorisation has a backward error of
// order d_in eps_float64 ||C|| whatever the conditioning of C, far below the float32 rounding of
// the products, so no condition test is needed. Result: full symmetric [m, m], float32 when
// `single`, else float64.
at::Tensor choleskyCongruence(const at::Tensor& p, const at::Tensor& c, bool single,
                              CongruenceRoute* route);

} // namespace rs::compensate
