"""The points supermarket (积分超市): products, stock ledger, redemption windows, redemptions."""
